#include <platypos/user/context.hpp>

namespace platypos::user {

using abi::Op;
using abi::Sqe;

namespace detail {

namespace {
struct FrameHeader {
  Heap* heap;
  std::uint64_t pad;
};
static_assert(sizeof(FrameHeader) == 16);
}  // namespace

void* frame_alloc(Context& cx, std::size_t bytes) {
  void* raw = cx.heap().alloc(bytes + sizeof(FrameHeader));
  if (raw == nullptr) cx.fatal("out of program memory for a coroutine frame");
  auto* h = static_cast<FrameHeader*>(raw);
  h->heap = &cx.heap();
  return h + 1;
}

void frame_free(void* frame, std::size_t bytes) {
  auto* h = static_cast<FrameHeader*>(frame) - 1;
  h->heap->free(h, bytes + sizeof(FrameHeader));
}

}  // namespace detail

namespace {

Expected<void> as_void(std::int64_t r) {
  if (abi::is_error(r)) return abi::status_of(r);
  return {};
}
Expected<Handle> as_handle(std::int64_t r) {
  if (abi::is_error(r)) return abi::status_of(r);
  return Handle{static_cast<std::uint32_t>(r)};
}
Expected<std::uint64_t> as_u64(std::int64_t r) {
  if (abi::is_error(r)) return abi::status_of(r);
  return static_cast<std::uint64_t>(r);
}
Expected<ChannelPair> as_pair(std::int64_t r) {
  if (abi::is_error(r)) return abi::status_of(r);
  return ChannelPair{Handle{static_cast<std::uint32_t>(static_cast<std::uint64_t>(r) >> 32)},
                     Handle{static_cast<std::uint32_t>(r)}};
}
Expected<ReadResult> as_read(std::int64_t r) {
  if (abi::is_error(r)) return abi::status_of(r);
  return ReadResult{static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(static_cast<std::uint64_t>(r) >> 32)};
}

Sqe make(Op op, Handle h = {}) {
  Sqe s{};
  s.opcode = static_cast<std::uint8_t>(op);
  s.handle = h.value;
  return s;
}
std::uint64_t addr_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

}  // namespace

Context::Context(const abi::ProgramEnv* env) : env_(env), heap_(env->heap, env->heap_bytes), ring_(env) {}

std::span<const Handle> Context::initial_handles() const {
  return {reinterpret_cast<const Handle*>(env_->initial_handles), env_->initial_handle_count};
}

std::string_view Context::args() const {
  std::size_t n = 0;
  while (n < abi::kMaxProgramArgs && env_->args[n] != '\0') ++n;
  return {env_->args, n};
}

bool Context::in_program_memory(const void* p, std::uint64_t bytes) const {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto base = reinterpret_cast<std::uintptr_t>(env_->memory);
  return a >= base && bytes <= env_->memory_bytes && a - base <= env_->memory_bytes - bytes;
}

std::uint64_t Context::stage(std::span<const char> in, void** staged) {
  *staged = nullptr;
  if (in.empty()) return 0;
  if (in_program_memory(in.data(), in.size())) return addr_of(in.data());
  char* copy = static_cast<char*>(heap_.alloc(in.size()));
  if (copy == nullptr) fatal("out of program memory for an operation's input");
  for (std::size_t i = 0; i < in.size(); ++i) copy[i] = in[i];
  *staged = copy;
  return addr_of(copy);
}

// --- Scheduling ---------------------------------------------------------------------------------------------------

void Context::schedule(detail::Resumable* r) {
  r->next = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->next = r;
  } else {
    ready_head_ = r;
  }
  ready_tail_ = r;
}

void Context::spawn(Task<void> t) {
  auto h = t.release();
  if (!h) return;
  h.promise().detached = true;
  h.promise().node.handle = h;
  schedule(&h.promise().node);
}

bool Context::run_ready() {
  // Resume what was ready when the pass began; what they make ready runs in the next pass (after a submit), so that a
  // busy coroutine cannot keep completions from being reaped.
  detail::Resumable* batch = ready_head_;
  ready_head_ = ready_tail_ = nullptr;
  while (batch != nullptr) {
    detail::Resumable* r = batch;
    batch = r->next;
    ++stats_.resumes;
    r->handle.resume();
  }
  submit_overflow();
  ring_.flush();
  const bool reaped = reap() > 0;
  return reaped || ready_head_ != nullptr;
}

std::uint32_t Context::reap() {
  const std::uint32_t n = ring_.reap([this](const abi::Cqe& cqe) {
    if (cqe.user_data == 0) return;  // detached
    auto* c = reinterpret_cast<detail::Completion*>(static_cast<std::uintptr_t>(cqe.user_data));
    if (c->each_value != nullptr && cqe.result > 0) {
      ++in_flight_;  // not its last completion: it stays in flight
      c->each_value(c->each_context, cqe.result);
      return;
    }
    if (c->each != nullptr && cqe.result >= 0) {
      ++in_flight_;  // not its last completion: it stays in flight
      c->each(c->each_context, Handle{static_cast<std::uint32_t>(cqe.result)});
      return;
    }
    c->result = cqe.result;
    if (c->group != nullptr) {
      if (--c->group->remaining == 0) schedule(&c->group->node);
    } else {
      schedule(c);
    }
  });
  stats_.completions += n;
  in_flight_ -= n;
  return n;
}

void Context::idle() {
  // Nothing to run: everything waits on the kernel (or nothing does, and main can never finish).
  if (in_flight_ == 0 && overflow_head_ == nullptr) fatal("deadlock: main waits, but no operation is in flight");
  const std::uint64_t start = env_->now_ns();
  for (std::uint32_t i = 0;; ++i) {
    if (ring_.has_completions()) return;
    // Entries that did not fit in the SQ go in as soon as the kernel has taken what is there. Not only completions
    // make room: the kernel takes entries that then wait (a receive on an idle connection) without completing
    // anything, so a program that blocked for a completion here would wait for good (10,000 idle connections did).
    if (overflow_head_ != nullptr && ring_.sq_has_room()) return;
    ++stats_.idle_spins;
    env_->relax();
    // The clock is read every few polls only: it costs more than a poll.
    if ((i & 15) == 15 && env_->now_ns() - start >= idle_spin_ns_) {
      // With entries still waiting for the SQ, keep polling: the kernel core was rung (flush) and takes them as soon
      // as the CQ has room for their completions; blocking would need a completion that may never come.
      if (overflow_head_ == nullptr) break;
    }
  }
  // The kernel core may be idle too: it was told in flush() (NEED_WAKEUP), or wait_completions rings it.
  ring_.wait(1);
}

// --- Submission ---------------------------------------------------------------------------------------------------

void Context::submit(detail::Completion* c) {
  ++in_flight_;
  c->sqe.user_data = reinterpret_cast<std::uintptr_t>(c);
  if (overflow_head_ == nullptr) {
    if (Sqe* s = ring_.slot(); s != nullptr) {
      *s = c->sqe;
      ring_.commit();
      return;
    }
  }
  // The SQ is full (the kernel holds back while the CQ has no room for more): keep order, submit later.
  ++stats_.overflowed;
  c->next = nullptr;
  if (overflow_tail_ != nullptr) {
    static_cast<detail::Completion*>(overflow_tail_)->next = c;
  } else {
    overflow_head_ = c;
  }
  overflow_tail_ = c;
}

void Context::submit_overflow() {
  while (overflow_head_ != nullptr) {
    Sqe* s = ring_.slot();
    if (s == nullptr) return;
    detail::Completion* c = overflow_head_;
    overflow_head_ = static_cast<detail::Completion*>(c->next);
    if (overflow_head_ == nullptr) overflow_tail_ = nullptr;
    *s = c->sqe;
    ring_.commit();
  }
}

void Context::submit_raw(const Sqe& sqe) {
  for (;;) {
    submit_overflow();
    if (overflow_head_ == nullptr) {
      if (Sqe* s = ring_.slot(); s != nullptr) {
        *s = sqe;
        ring_.commit();
        return;
      }
    }
    ring_.flush();
    ring_.wait(1);
    reap();
  }
}

void Context::submit_detached(const Sqe& sqe) {
  Sqe s = sqe;
  s.user_data = 0;
  submit_raw(s);
  ++in_flight_;  // reap() counts every CQE, detached ones too
}

void Context::exit(std::int64_t code) {
  Sqe s = make(Op::process_exit);
  s.arg0 = static_cast<std::uint64_t>(code);
  submit_detached(s);
  ring_.flush();
  // The kernel ends this task at its next system call.
  for (;;) {
    ring_.wait(1);
    reap();
  }
}

void Context::fatal(std::string_view why) {
  static constexpr char kPrefix[] = "fatal: ";
  char* text = static_cast<char*>(heap_.alloc(why.size() + sizeof(kPrefix)));
  if (text != nullptr) {
    std::size_t n = 0;
    for (char ch : std::string_view(kPrefix)) text[n++] = ch;
    for (char ch : why) text[n++] = ch;
    text[n++] = '\n';
    Sqe s = make(Op::console_write);
    s.addr = addr_of(text);
    s.len = static_cast<std::uint32_t>(n);
    submit_detached(s);
  }
  exit(-1);
}

// --- Operations ---------------------------------------------------------------------------------------------------

Operation<void> Context::nop() { return {*this, make(Op::nop), as_void}; }

Operation<ChannelPair> Context::channel_create() { return {*this, make(Op::channel_create), as_pair}; }

Operation<void> Context::write(Handle ch, std::span<const char> bytes, std::span<const Handle> handles) {
  Sqe s = make(Op::channel_write, ch);
  void* staged = nullptr;
  s.addr = stage(bytes, &staged);
  s.len = static_cast<std::uint32_t>(bytes.size());
  s.addr2 = handles.empty() ? 0 : addr_of(handles.data());
  s.count = static_cast<std::uint32_t>(handles.size());
  return {*this, s, as_void, staged, bytes.size()};
}

Operation<ReadResult> Context::read(Handle ch, std::span<char> bytes, std::span<Handle> handles,
                                    abi::ReadNeeded* needed) {
  Sqe s = make(Op::channel_read, ch);
  s.addr = bytes.empty() ? 0 : addr_of(bytes.data());
  s.len = static_cast<std::uint32_t>(bytes.size());
  s.addr2 = handles.empty() ? 0 : addr_of(handles.data());
  s.count = static_cast<std::uint32_t>(handles.size());
  s.arg1 = addr_of(needed);
  return {*this, s, as_read};
}

Operation<Handle> Context::duplicate(Handle h, std::uint64_t rights) {
  Sqe s = make(Op::handle_duplicate, h);
  s.arg0 = rights;
  return {*this, s, as_handle};
}

Operation<void> Context::close(Handle h) { return {*this, make(Op::handle_close, h), as_void}; }

Operation<std::uint64_t> Context::wait(Handle h, std::uint64_t signals, std::uint64_t timeout_ns) {
  Sqe s = make(Op::wait, h);
  s.arg0 = signals;
  s.arg1 = timeout_ns;
  return {*this, s, as_u64};
}

Operation<void> Context::sleep(std::uint64_t ns) {
  Sqe s = make(Op::timeout);
  s.arg0 = ns;
  return {*this, s, as_void};
}

Operation<void> Context::log_write(Handle log, std::string_view record) {
  Sqe s = make(Op::log_write, log);
  void* staged = nullptr;
  s.addr = stage(record, &staged);
  s.len = static_cast<std::uint32_t>(record.size());
  return {*this, s, as_void, staged, record.size()};
}

Operation<Handle> Context::spawn_process(std::string_view command, std::uint32_t cores, std::uint64_t memory_bytes,
                                         std::span<const Handle> handles) {
  Sqe s = make(Op::process_spawn);
  void* staged = nullptr;
  s.addr = stage(command, &staged);
  s.len = static_cast<std::uint32_t>(command.size());
  s.addr2 = handles.empty() ? 0 : addr_of(handles.data());
  s.count = static_cast<std::uint32_t>(handles.size());
  s.arg0 = cores;
  s.arg1 = memory_bytes;
  return {*this, s, as_handle, staged, command.size()};
}

Operation<void> Context::kill(Handle process, std::int64_t code) {
  Sqe s = make(Op::process_exit, process);
  s.arg0 = static_cast<std::uint64_t>(code);
  return {*this, s, as_void};
}

Operation<Handle> Context::memory_create(std::uint64_t bytes) {
  Sqe s = make(Op::memory_create);
  s.arg0 = bytes;
  return {*this, s, as_handle};
}

Operation<std::uint64_t> Context::memory_read(Handle mem, std::uint64_t offset, std::span<char> out) {
  Sqe s = make(Op::memory_read, mem);
  s.arg0 = offset;
  s.addr = out.empty() ? 0 : addr_of(out.data());
  s.len = static_cast<std::uint32_t>(out.size());
  return {*this, s, as_u64};
}

Operation<std::uint64_t> Context::memory_write(Handle mem, std::uint64_t offset, std::span<const char> in) {
  Sqe s = make(Op::memory_write, mem);
  void* staged = nullptr;
  s.arg0 = offset;
  s.addr = stage(in, &staged);
  s.len = static_cast<std::uint32_t>(in.size());
  return {*this, s, as_u64, staged, in.size()};
}

Operation<Handle> Context::log_create(std::string_view name, std::uint64_t ring_bytes) {
  Sqe s = make(Op::log_create);
  void* staged = nullptr;
  s.addr = stage(name, &staged);
  s.len = static_cast<std::uint32_t>(name.size());
  s.arg0 = ring_bytes;
  return {*this, s, as_handle, staged, name.size()};
}

Operation<std::uint64_t> Context::log_read(Handle log, std::span<char> out) {
  Sqe s = make(Op::log_read, log);
  s.addr = out.empty() ? 0 : addr_of(out.data());
  s.len = static_cast<std::uint32_t>(out.size());
  return {*this, s, as_u64};
}

Operation<Handle> Context::ref_create(Handle issuer_key, std::uint64_t cookie) {
  Sqe s = make(Op::ref_create, issuer_key);
  s.arg0 = cookie;
  return {*this, s, as_handle};
}

Operation<std::uint64_t> Context::ref_resolve(Handle ref, Handle issuer_key) {
  Sqe s = make(Op::ref_resolve, ref);
  s.arg0 = issuer_key.value;
  return {*this, s, as_u64};
}

Operation<void> Context::console_write(std::string_view text) {
  Sqe s = make(Op::console_write);
  void* staged = nullptr;
  s.addr = stage(text, &staged);
  s.len = static_cast<std::uint32_t>(text.size());
  return {*this, s, as_void, staged, text.size()};
}

Operation<Handle> Context::event_create() { return {*this, make(Op::event_create), as_handle}; }

Operation<void> Context::signal(Handle h, std::uint32_t clear, std::uint32_t set) {
  Sqe s = make(Op::object_signal, h);
  s.arg0 = clear;
  s.arg1 = set;
  return {*this, s, as_void};
}

Operation<void> Context::revoke(Handle h) { return {*this, make(Op::handle_revoke, h), as_void}; }

Operation<Handle> Context::replace(Handle h, std::uint64_t rights) {
  Sqe s = make(Op::handle_replace, h);
  s.arg0 = rights;
  return {*this, s, as_handle};
}

Operation<Context::Listening> Context::listen(Handle net, std::uint64_t endpoint, std::uint32_t backlog) {
  Sqe s = make(Op::net_listen, net);
  s.arg0 = endpoint;
  s.arg1 = backlog;
  return {*this, s, [](std::int64_t r) -> Expected<Listening> {
            if (r < 0) return abi::status_of(r);
            return Listening{Handle{static_cast<std::uint32_t>(r)}, static_cast<std::uint16_t>(r >> 32)};
          }};
}

Operation<Handle> Context::accept(Handle listener) { return {*this, make(Op::net_accept, listener), as_handle}; }

Operation<void> Context::accept_each(Handle listener, void (*on_connection)(void* context, Handle stream),
                                     void* context) {
  Sqe s = make(Op::net_accept, listener);
  s.arg0 = abi::kAcceptMultishot;
  Operation<void> op{*this, s, as_void};
  op.set_each(on_connection, context);
  return op;
}

Operation<Handle> Context::connect(Handle net, std::uint64_t endpoint) {
  Sqe s = make(Op::net_connect, net);
  s.arg0 = endpoint;
  return {*this, s, as_handle};
}

Operation<std::uint64_t> Context::recv(Handle stream, std::span<char> out) {
  Sqe s = make(Op::net_recv, stream);
  s.addr = out.empty() ? 0 : addr_of(out.data());
  s.len = static_cast<std::uint32_t>(out.size());
  return {*this, s, as_u64};
}

Operation<std::uint64_t> Context::send(Handle stream, std::span<const char> in) {
  Sqe s = make(Op::net_send, stream);
  void* staged = nullptr;
  s.addr = stage(in, &staged);
  s.len = static_cast<std::uint32_t>(in.size());
  return {*this, s, as_u64, staged, in.size()};
}

Operation<void> Context::shutdown(Handle stream, std::uint64_t how) {
  Sqe s = make(Op::net_shutdown, stream);
  s.arg0 = how;
  return {*this, s, as_void};
}

Operation<Handle> Context::open_at(Handle dir, std::string_view path, std::uint64_t flags) {
  Sqe s = make(Op::file_open_at, dir);
  void* staged = nullptr;
  s.addr = stage(path, &staged);
  s.len = static_cast<std::uint32_t>(path.size());
  s.arg0 = flags;
  return {*this, s, as_handle, staged, path.size()};
}

Operation<std::uint64_t> Context::read_at(Handle file, std::uint64_t offset, std::span<char> out) {
  Sqe s = make(Op::file_read_at, file);
  s.addr = out.empty() ? 0 : addr_of(out.data());
  s.len = static_cast<std::uint32_t>(out.size());
  s.arg0 = offset;
  return {*this, s, as_u64};
}

Operation<std::uint64_t> Context::write_at(Handle file, std::uint64_t offset, std::span<const char> in) {
  Sqe s = make(Op::file_write_at, file);
  void* staged = nullptr;
  s.addr = stage(in, &staged);
  s.len = static_cast<std::uint32_t>(in.size());
  s.arg0 = offset;
  return {*this, s, as_u64, staged, in.size()};
}

Operation<void> Context::sync(Handle file) { return {*this, make(Op::file_sync, file), as_void}; }

Operation<std::uint64_t> Context::size(Handle file) { return {*this, make(Op::file_size, file), as_u64}; }

Operation<Handle> Context::pool_create(std::span<char> region, std::uint32_t buffer_bytes) {
  Sqe s = make(Op::net_pool_create);
  s.addr = region.empty() ? 0 : addr_of(region.data());
  s.len = static_cast<std::uint32_t>(region.size());
  s.arg0 = buffer_bytes;
  return {*this, s, as_handle};
}

Operation<void> Context::pool_provide(Handle pool, std::uint32_t first, std::uint32_t n) {
  Sqe s = make(Op::net_pool_provide, pool);
  s.arg0 = first;
  s.arg1 = n;
  return {*this, s, as_void};
}

namespace {
Expected<Context::Pooled> as_pooled(std::int64_t r) {
  if (r < 0) return abi::status_of(r);
  const auto v = static_cast<std::uint64_t>(r);
  return Context::Pooled{v & 0xffffffffu, static_cast<std::uint32_t>(v >> 32)};
}
}  // namespace

Operation<Context::Pooled> Context::recv_pooled(Handle stream, Handle pool) {
  Sqe s = make(Op::net_recv_pool, stream);
  s.arg0 = pool.value;
  return {*this, s, as_pooled};
}

Operation<Context::Pooled> Context::recv_each(Handle stream, Handle pool,
                                              void (*on_data)(void* context, std::int64_t bytes_and_buffer),
                                              void* context) {
  Sqe s = make(Op::net_recv_pool, stream);
  s.arg0 = pool.value;
  s.arg1 = abi::kRecvMultishot;
  Operation<Pooled> op{*this, s, as_pooled};
  op.set_each_value(on_data, context);
  return op;
}

// --- Programs -----------------------------------------------------------------------------------------------------

void run_program(const abi::ProgramEnv* env, Task<int> (*fn)(Context& cx)) {
  Context cx(env);
  const int code = cx.run(fn(cx));
  if (code != 0) cx.exit(code);
  // Returning ends this core's task; the process ends with the last one.
}

}  // namespace platypos::user
