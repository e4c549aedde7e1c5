#pragma once
// Task<T>: a lazily started coroutine that produces a T (or nothing). Awaiting a task starts it and resumes the
// awaiter when it finishes (symmetric transfer: no recursion, no executor round trip). Context::spawn() runs one
// detached; Context::run() runs a program's main task.
//
// Frames are not allocated with global operator new: a coroutine of this runtime takes a Context& parameter (or a
// parameter that has a `Context& context()` member, e.g. `this` of a server object), and its frame comes from that
// core's Heap. A coroutine without one does not compile. Running out of program memory ends the program (there are
// no exceptions to report it with), never the kernel.

#include <platypos/user/heap.hpp>

#include <coroutine>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace platypos::user {

class Context;

namespace detail {

// An entry in an executor's ready list: a coroutine to resume.
struct Resumable {
  Resumable* next = nullptr;
  std::coroutine_handle<> handle;
};

template <class T>
concept IsContext = std::is_same_v<std::remove_cvref_t<T>, Context>;
template <class T>
concept IsContextPtr = std::is_same_v<std::remove_cvref_t<T>, Context*>;
template <class T>
concept HasContext = requires(T& t) {
  { t.context() } -> std::same_as<Context&>;
};
template <class T>
concept PtrHasContext = std::is_pointer_v<std::remove_cvref_t<T>> && requires(T& t) {
  { t->context() } -> std::same_as<Context&>;
};

template <class First, class... Rest>
Context& find_context(First& first, Rest&... rest) {
  if constexpr (IsContext<First>) {
    return first;
  } else if constexpr (IsContextPtr<First>) {
    return *first;
  } else if constexpr (HasContext<First>) {
    return first.context();
  } else if constexpr (PtrHasContext<First>) {
    return first->context();
  } else {
    static_assert(sizeof...(Rest) > 0,
                  "a PlatypOS coroutine needs a Context& parameter (or an object with a context() member): its frame "
                  "comes from that core's heap");
    return find_context(rest...);
  }
}

// Frames: a 16-byte header remembers the heap they came from.
void* frame_alloc(Context& cx, std::size_t bytes);
void frame_free(void* frame, std::size_t bytes);

struct PromiseBase {
  Resumable node;  // for the ready list (spawn, yield)
  std::coroutine_handle<> continuation;
  bool detached = false;

  template <class... Args>
  static void* operator new(std::size_t bytes, Args&... args) {
    return frame_alloc(find_context(args...), bytes);
  }
  static void operator delete(void* frame, std::size_t bytes) { frame_free(frame, bytes); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      PromiseBase& p = h.promise();
      if (p.detached) {
        h.destroy();
        return std::noop_coroutine();
      }
      return p.continuation ? p.continuation : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { __builtin_trap(); }  // built without exceptions: unreachable
};

template <class T>
struct ValuePromise : PromiseBase {
  T value{};
  void return_value(T v) { value = std::move(v); }
  T take() { return std::move(value); }
};
template <>
struct ValuePromise<void> : PromiseBase {
  void return_void() {}
  void take() {}
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::ValuePromise<T> {
    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Task() { reset(); }

  bool valid() const { return static_cast<bool>(h_); }
  bool done() const { return h_ && h_.done(); }

  // Awaiting: start it, come back when it is done.
  bool await_ready() const noexcept { return !h_ || h_.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    return h_;
  }
  T await_resume() { return h_.promise().take(); }

  // For the executor: give up ownership (a detached task frees itself when it finishes).
  Handle release() { return std::exchange(h_, {}); }
  Handle handle() const { return h_; }

 private:
  explicit Task(Handle h) : h_(h) {}
  void reset() {
    if (h_) h_.destroy();
    h_ = {};
  }
  Handle h_;
};

}  // namespace platypos::user
