#pragma once
// when_all: run tasks concurrently on this core's executor and resume when every one has finished.
//
//   auto [a, b] = co_await when_all(cx, fetch(cx, x), fetch(cx, y));   // each Task<T> gives its T
//   co_await when_all(cx, std::span(tasks));                            // any number of Task<void>
//
// The tasks start on the executor's next pass, in order; a Task<void>'s slot in the tuple is a Nothing. Each task is
// wrapped in a small coroutine (one frame from the core's heap) that stores its result and counts down.

#include <platypos/user/context.hpp>

#include <cstddef>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>

namespace platypos::user {

struct Nothing {};

namespace detail {

template <class T>
using SlotOf = std::conditional_t<std::is_void_v<T>, Nothing, T>;

struct JoinState {
  std::size_t remaining = 0;
  Resumable node;
};

struct JoinAwaiter {
  JoinState* state;
  bool await_ready() const noexcept { return state->remaining == 0; }
  void await_suspend(std::coroutine_handle<> h) noexcept { state->node.handle = h; }
  void await_resume() const noexcept {}
};

template <class T>
Task<void> join_one(Context& cx, Task<T> task, SlotOf<T>* slot, JoinState* state) {
  if constexpr (std::is_void_v<T>) {
    co_await task;
  } else {
    *slot = co_await task;
  }
  if (--state->remaining == 0) cx.schedule(&state->node);
}

}  // namespace detail

template <class... Ts>
Task<std::tuple<detail::SlotOf<Ts>...>> when_all(Context& cx, Task<Ts>... tasks) {
  std::tuple<detail::SlotOf<Ts>...> results{};
  detail::JoinState state;
  state.remaining = sizeof...(Ts);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (cx.spawn(detail::join_one(cx, std::move(tasks), &std::get<I>(results), &state)), ...);
  }
  (std::index_sequence_for<Ts...>{});
  co_await detail::JoinAwaiter{&state};
  co_return results;
}

inline Task<void> when_all(Context& cx, std::span<Task<void>> tasks) {
  detail::JoinState state;
  state.remaining = tasks.size();
  Nothing sink;
  for (Task<void>& t : tasks) cx.spawn(detail::join_one(cx, std::move(t), &sink, &state));
  co_await detail::JoinAwaiter{&state};
}

}  // namespace platypos::user
