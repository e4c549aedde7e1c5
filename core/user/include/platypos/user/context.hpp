#pragma once
// Context: one app core's executor. It owns that core's ring client and heap, runs coroutines (Task<T>), turns
// operations into submission entries and completions back into resumed coroutines:
//
//   Task<int> serve(Context& cx, Handle ch) {
//     char buf[256];
//     for (;;) {
//       auto r = co_await cx.read(ch, buf);            // parks in the kernel until a message arrives
//       if (!r) co_return r.status() == Status::peer_closed ? 0 : 1;
//       co_await cx.write(ch, {buf, r->bytes});
//     }
//   }
//
// An operation is an awaitable object that lives in the awaiting coroutine's frame: issuing one allocates nothing.
// Entries are written into the SQ as coroutines issue them and published once per executor pass (a batch); the
// kernel core serving the ring polls it, so in the steady state a program makes no system call at all. With nothing
// to run the executor polls the CQ for a while (ProgramEnv::relax), then blocks in wait_completions.
//
// One Context per app core, used only from that core's task: nothing here is thread-safe, nothing needs to be.

#include <platypos/abi/ops.hpp>
#include <platypos/abi/program.hpp>
#include <platypos/user/expected.hpp>
#include <platypos/user/heap.hpp>
#include <platypos/user/ring_client.hpp>
#include <platypos/user/task.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>

namespace platypos::user {

// A handle: the program's name for a capability (0 is never valid).
struct Handle {
  std::uint32_t value = 0;
  constexpr explicit operator bool() const { return value != 0; }
  friend constexpr bool operator==(Handle, Handle) = default;
};
static_assert(sizeof(Handle) == sizeof(std::uint32_t));

struct ChannelPair {
  Handle a, b;
};
struct ReadResult {
  std::uint32_t bytes = 0;
  std::uint32_t handles = 0;
};

namespace detail {
struct Group;
// One submitted entry: where its completion goes.
struct Completion : Resumable {
  abi::Sqe sqe{};
  std::int64_t result = 0;
  Group* group = nullptr;  // part of a linked set: resume the awaiter when all are done
  // A multishot op (they yield handles): each success goes to each(each_context, handle) as it is reaped; the
  // failure that ends it resumes the awaiter.
  void (*each)(void* context, Handle h) = nullptr;
  void (*each_value)(void* context, std::int64_t result) = nullptr;  // (the same, for results that are not handles)
  void* each_context = nullptr;
};
struct Group {
  std::uint32_t remaining = 0;
  Resumable node;
};
}  // namespace detail

class Context;

// An operation, awaitable once: co_await gives Expected<T>. Buffers the kernel writes into must be in program memory
// (coroutine frames and the heap are); bytes it only reads may be anywhere the program can read (they are copied to
// the heap first when they are not in program memory: string literals, say).
template <class T>
class [[nodiscard]] Operation {
 public:
  using Decode = Expected<T> (*)(std::int64_t result);
  Operation(Context& cx, const abi::Sqe& sqe, Decode decode) : cx_(&cx), decode_(decode) { c_.sqe = sqe; }
  // `staged`: a copy of input bytes that were not in program memory (a string literal, say), freed with the
  // operation.
  Operation(Context& cx, const abi::Sqe& sqe, Decode decode, void* staged, std::uint64_t staged_bytes)
      : cx_(&cx), decode_(decode), staged_(staged), staged_bytes_(staged_bytes) {
    c_.sqe = sqe;
  }
  Operation(Operation&& o) noexcept
      : cx_(o.cx_), c_(o.c_), decode_(o.decode_), staged_(o.staged_), staged_bytes_(o.staged_bytes_) {
    o.staged_ = nullptr;
  }
  Operation& operator=(Operation&&) = delete;
  ~Operation();

  // Flags: do not wait (a read on an empty channel fails with would_block instead).
  Operation&& nonblocking() && {
    c_.sqe.flags |= abi::kSqeNonBlocking;
    return static_cast<Operation&&>(*this);
  }
  const abi::Sqe& sqe() const { return c_.sqe; }
  // Makes it a multishot op's awaitable: see Context::accept_each.
  void set_each(void (*each)(void* context, Handle h), void* context) {
    c_.each = each;
    c_.each_context = context;
  }
  void set_each_value(void (*each)(void* context, std::int64_t result), void* context) {
    c_.each_value = each;
    c_.each_context = context;
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  Expected<T> await_resume() { return decode_(c_.result); }

 private:
  template <class... Ts>
  friend class Linked;
  Context* cx_;
  detail::Completion c_;
  Decode decode_;
  void* staged_ = nullptr;
  std::uint64_t staged_bytes_ = 0;
};

// Operations submitted as one LINK chain: each starts only if the previous one succeeded; a failure completes the
// rest with Status::cancelled. co_await gives a tuple of their Expected results.
template <class... Ts>
class [[nodiscard]] Linked {
 public:
  static_assert(sizeof...(Ts) >= 1 && sizeof...(Ts) <= abi::kMaxChain, "a chain has 1 to abi::kMaxChain operations");
  explicit Linked(Context& cx, Operation<Ts>&&... ops) : cx_(&cx), ops_(static_cast<Operation<Ts>&&>(ops)...) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  std::tuple<Expected<Ts>...> await_resume() {
    return std::apply([](auto&... op) { return std::tuple<Expected<Ts>...>(op.decode_(op.c_.result)...); }, ops_);
  }

 private:
  Context* cx_;
  std::tuple<Operation<Ts>...> ops_;
  detail::Group group_;
};

class Context {
 public:
  // How long an idle executor polls its CQ before it blocks in wait_completions: longer than waking a blocked task
  // costs (a futex wake in hosted threads mode), so a short pause between operations stays free of system calls.
  static constexpr std::uint64_t kDefaultIdleSpinNs = 100'000;
  void set_idle_spin_ns(std::uint64_t ns) { idle_spin_ns_ = ns; }

  explicit Context(const abi::ProgramEnv* env);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const abi::ProgramEnv& env() const { return *env_; }
  Heap& heap() { return heap_; }
  RingClient& ring() { return ring_; }
  // The handles the parent passed at spawn, in order.
  std::span<const Handle> initial_handles() const;
  Handle self() const { return Handle{env_->self}; }
  std::string_view args() const;

  // Runs `main` (and whatever it spawns) until main finishes; returns its value.
  template <class T>
  T run(Task<T> main);
  // Runs `t` detached: its frame is freed when it finishes.
  void spawn(Task<void> t);
  // Lets the other ready coroutines run first.
  auto yield() {
    struct Awaiter {
      Context* cx;
      detail::Resumable node;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        node.handle = h;
        cx->schedule(&node);
      }
      void await_resume() const noexcept {}
    };
    return Awaiter{this, {}};
  }

  std::uint64_t now_ns() const { return env_->now_ns(); }
  // Burns `ns` of CPU time (a model of real work; exact in the simulator).
  void work_ns(std::uint64_t ns) const { env_->work_ns(ns); }

  // --- Operations (abi/ops.hpp has what each does) ---
  Operation<void> nop();
  Operation<ChannelPair> channel_create();
  Operation<void> write(Handle ch, std::span<const char> bytes, std::span<const Handle> handles = {});
  // At most bytes.size() bytes and handles.size() handles; buffer_too_small (message left in place) if either is too
  // small, and then *needed (if given; it must be in program memory, like every buffer) tells the sizes.
  Operation<ReadResult> read(Handle ch, std::span<char> bytes, std::span<Handle> handles = {},
                             abi::ReadNeeded* needed = nullptr);
  Operation<Handle> duplicate(Handle h, std::uint64_t rights);
  Operation<void> close(Handle h);
  // Waits for any of `signals` (abi::signals); gives the signals that were set; timed_out after `timeout_ns` (0:
  // never).
  Operation<std::uint64_t> wait(Handle h, std::uint64_t signals, std::uint64_t timeout_ns = 0);
  Operation<void> sleep(std::uint64_t ns);
  Operation<void> log_write(Handle log, std::string_view record);
  // "program args...": a new process with `cores` dedicated cores and `memory_bytes` of memory; `handles` move to it.
  Operation<Handle> spawn_process(std::string_view command, std::uint32_t cores, std::uint64_t memory_bytes,
                                  std::span<const Handle> handles = {});
  Operation<void> kill(Handle process, std::int64_t code);
  Operation<Handle> memory_create(std::uint64_t bytes);
  Operation<std::uint64_t> memory_read(Handle mem, std::uint64_t offset, std::span<char> out);
  Operation<std::uint64_t> memory_write(Handle mem, std::uint64_t offset, std::span<const char> in);
  Operation<Handle> log_create(std::string_view name, std::uint64_t ring_bytes = 0);
  Operation<std::uint64_t> log_read(Handle log, std::span<char> out);
  Operation<Handle> ref_create(Handle issuer_key, std::uint64_t cookie);
  Operation<std::uint64_t> ref_resolve(Handle ref, Handle issuer_key);
  Operation<void> console_write(std::string_view text);
  // An event: an object with nothing but signals (wait, signal, duplicate, transfer, manage).
  Operation<Handle> event_create();
  // Clears, then sets, user signals (abi::signals::user_mask) of the object behind `h` (SIGNAL right).
  Operation<void> signal(Handle h, std::uint32_t clear, std::uint32_t set);
  // Every other handle to the object fails with revoked from now on; `h` goes on working (MANAGE right).
  Operation<void> revoke(Handle h);
  // A handle with `rights` (a subset of h's) in place of `h`, which is closed.
  Operation<Handle> replace(Handle h, std::uint64_t rights);

  // --- Sockets (a net grant from the parent says where) ---
  struct Listening {
    Handle listener;
    std::uint16_t port = 0;  // the port it is bound to (the one asked for, or the free one picked for port 0)
  };
  // Listens on `endpoint` (abi::ipv4_endpoint) with the grant `net`; backlog 0: abi::kDefaultBacklog.
  Operation<Listening> listen(Handle net, std::uint64_t endpoint, std::uint32_t backlog = 0);
  // The next connection's stream (waits for one).
  Operation<Handle> accept(Handle listener);
  // A multishot accept: one entry for every connection to come. Each new stream goes to on_connection(context, it),
  // called by the executor as its completion is reaped (start a task for it there: cx.spawn); co_await gives the
  // status that ended it (no_resources: out of handles, that connection closed; re-arm when there is room).
  Operation<void> accept_each(Handle listener, void (*on_connection)(void* context, Handle stream), void* context);
  // A stream connecting to `endpoint`: WRITABLE once connected (wait on it), READABLE|PEER_CLOSED if it failed.
  Operation<Handle> connect(Handle net, std::uint64_t endpoint);
  // Bytes received into `out` (waits for some); 0 at the end of the stream.
  Operation<std::uint64_t> recv(Handle stream, std::span<char> out);
  // Bytes taken from `in` (waits for room for some; fewer than in.size() when the send queue is short of room).
  Operation<std::uint64_t> send(Handle stream, std::span<const char> in);
  // abi::kShutdownSend and/or abi::kShutdownReceive.
  Operation<void> shutdown(Handle stream, std::uint64_t how);
  // A provided-buffer pool over `region` (program memory) cut into buffers of `buffer_bytes`: receives into it take a
  // buffer only when data arrives (an idle connection holds none).
  Operation<Handle> pool_create(std::span<char> region, std::uint32_t buffer_bytes);
  // Buffers [first, first + n) are the kernel's to fill again.
  Operation<void> pool_provide(Handle pool, std::uint32_t first, std::uint32_t n);
  struct Pooled {
    std::uint64_t bytes = 0;  // 0: the end of the stream (no buffer)
    std::uint32_t buffer = 0;
  };
  // Bytes received into a buffer of `pool` (waits for some); no_resources when the pool has none free.
  Operation<Pooled> recv_pooled(Handle stream, Handle pool);
  // A multishot receive into `pool`: every arrival goes to on_data(context, bytes, buffer) as it is reaped; co_await
  // gives how it ended (0 bytes at the end of the stream; no_resources: the pool ran dry, provide and re-arm).
  Operation<Pooled> recv_each(Handle stream, Handle pool,
                              void (*on_data)(void* context, std::int64_t bytes_and_buffer), void* context);

  // --- Files (a directory handle from the parent says where) ---
  // Opens `path` (relative, beneath `dir`) with abi::kOpen* flags: a file handle, or a directory's (kOpenDirectory).
  Operation<Handle> open_at(Handle dir, std::string_view path, std::uint64_t flags);
  // Bytes read at `offset` (fewer at the end of the file, or beyond abi::kMaxFileTransfer; 0 at or past the end).
  Operation<std::uint64_t> read_at(Handle file, std::uint64_t offset, std::span<char> out);
  // Bytes written at `offset` (fewer: the device took fewer, or beyond abi::kMaxFileTransfer).
  Operation<std::uint64_t> write_at(Handle file, std::uint64_t offset, std::span<const char> in);
  // Completes once the file's data is durable.
  Operation<void> sync(Handle file);
  Operation<std::uint64_t> size(Handle file);

  template <class... Ts>
  Linked<Ts...> linked(Operation<Ts>&&... ops) {
    return Linked<Ts...>(*this, static_cast<Operation<Ts>&&>(ops)...);
  }

  // Submits `sqe` without anyone awaiting it (user_data 0: its completion is dropped). E.g. closing a handle on the
  // way out. Buffers it names must stay valid until the kernel has run it.
  void submit_detached(const abi::Sqe& sqe);

  // Ends the whole process (every core) with `code`. Does not return.
  [[noreturn]] void exit(std::int64_t code);
  // Prints `why` on the console and ends the process with code -1 (a program bug, or program memory exhausted).
  [[noreturn]] void fatal(std::string_view why);

  // --- For the operations and awaitables ---
  // The address to give the kernel for input bytes: `in` itself if it lies in program memory, else a heap copy
  // (*staged is set; the operation frees it).
  std::uint64_t stage(std::span<const char> in, void** staged);
  bool in_program_memory(const void* p, std::uint64_t bytes) const;
  void submit(detail::Completion* c);
  void schedule(detail::Resumable* r);

  struct Stats {
    std::uint64_t resumes = 0;      // coroutine resumptions
    std::uint64_t completions = 0;  // CQEs consumed
    std::uint64_t overflowed = 0;   // submissions that found the SQ full and waited in the overflow list
    std::uint64_t idle_spins = 0;   // CQ polls that found nothing
  };
  const Stats& stats() const { return stats_; }
  std::uint64_t in_flight() const { return in_flight_; }

 private:
  // One pass: resume what is ready, submit, reap. Returns true if there may be more to do without waiting.
  bool run_ready();
  void submit_overflow();
  std::uint32_t reap();
  void idle();
  void submit_raw(const abi::Sqe& sqe);

  const abi::ProgramEnv* env_;
  Heap heap_;
  RingClient ring_;
  detail::Resumable* ready_head_ = nullptr;
  detail::Resumable* ready_tail_ = nullptr;
  detail::Completion* overflow_head_ = nullptr;  // waiting for SQ room, in order
  detail::Completion* overflow_tail_ = nullptr;
  std::uint64_t in_flight_ = 0;  // submitted (or overflowed) and not completed
  std::uint64_t idle_spin_ns_ = kDefaultIdleSpinNs;
  Stats stats_;
};

// --- Inline parts ---

template <class T>
Operation<T>::~Operation() {
  if (staged_ != nullptr) cx_->heap().free(staged_, staged_bytes_);
}

template <class T>
void Operation<T>::await_suspend(std::coroutine_handle<> h) {
  c_.handle = h;
  cx_->submit(&c_);
}

template <class... Ts>
void Linked<Ts...>::await_suspend(std::coroutine_handle<> h) {
  group_.remaining = sizeof...(Ts);
  group_.node.handle = h;
  std::uint32_t i = 0;
  std::apply(
      [&](auto&... op) {
        (
            [&] {
              op.c_.group = &group_;
              if (++i < sizeof...(Ts)) op.c_.sqe.flags |= abi::kSqeLink;
              cx_->submit(&op.c_);
            }(),
            ...);
      },
      ops_);
}

template <class T>
T Context::run(Task<T> main) {
  auto h = main.handle();
  h.promise().node.handle = h;
  schedule(&h.promise().node);
  for (;;) {
    const bool more = run_ready();
    if (h.done()) break;
    if (!more) idle();
  }
  return h.promise().take();
}

// Runs fn(cx) on every app core of the program; a nonzero result from any of them ends the whole process with it.
void run_program(const abi::ProgramEnv* env, Task<int> (*fn)(Context& cx));

}  // namespace platypos::user

// Registers a program whose main is `Task<int> fn(Context&)`, run on each of its app cores.
#define PLATYPOS_USER_PROGRAM(name, fn)                                                                         \
  static void PLATYPOS_PROGRAM_CONCAT(platypos_user_entry_, __LINE__)(const ::platypos::abi::ProgramEnv* env) { \
    ::platypos::user::run_program(env, fn);                                                                     \
  }                                                                                                             \
  PLATYPOS_PROGRAM(name, PLATYPOS_PROGRAM_CONCAT(platypos_user_entry_, __LINE__))
