#include <platypos/base/log.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/ring/runtime.hpp>

#include <new>

namespace platypos::ring {
namespace {
constinit Runtime* g_runtime = nullptr;

constexpr cap::Rights kSelfRights = cap::Rights::wait | cap::Rights::manage | cap::Rights::duplicate;
constexpr u32 kMaxHeapOrder = BuddyAllocator::kMaxOrder;

u32 floor_log2(u64 v) { return 63 - static_cast<u32>(__builtin_clzll(v)); }
}  // namespace

struct Runtime::Started {
  sched::ProcessId pid = sched::kNoProcess;
  sched::Process* process = nullptr;
  const ProgramDescriptor* program = nullptr;
  u32 cores = 0;
  Ring* rings[abi::kMaxProgramCores] = {};
  abi::ProgramEnv* envs[abi::kMaxProgramCores] = {};
};

Runtime* Runtime::instance() { return g_runtime; }

const ProgramDescriptor* Runtime::find_program(std::string_view name) const {
  for (const ProgramDescriptor* p : programs_)
    if (p != nullptr && name == p->name) return p;
  return nullptr;
}

Result<void> Runtime::start(u32 servers, u64 idle_ns) {
  if (servers == 0 || servers > kMaxServers) return Error::invalid_argument;
  for (u32 i = 0; i < servers; ++i) {
    PLATYPOS_TRY(servers_[i].start(sched_, "ring-server", idle_ns));
    server_count_ = i + 1;
  }
  g_runtime = this;
  return ok();
}

void Runtime::stop() {
  for (u32 i = 0; i < server_count_; ++i) servers_[i].stop();
  if (g_runtime == this) g_runtime = nullptr;
}

Result<Runtime::Started*> Runtime::prepare(const LaunchSpec& spec, const ProgramDescriptor* program) {
  if (spec.memory_bytes < 256 * KiB || spec.args.size() >= abi::kMaxProgramArgs || spec.cores == 0 ||
      spec.cores > abi::kMaxProgramCores) {
    return Error::invalid_argument;
  }
  Started* st = PLATYPOS_TRY(make<Started>());
  auto undo = [&](Error e) -> Error {
    abort_process(st);
    return e;
  };
  st->program = program;
  st->cores = spec.cores;
  Result<sched::ProcessId> pid = sched_.spawn(
      {.name = program->name, .cores = spec.cores, .memory_bytes = spec.memory_bytes, .handles = spec.handles});
  if (pid.is_error()) return undo(pid.error());
  st->pid = *pid;
  st->process = sched_.find_process(*pid);
  MemoryAccount* account = st->process->memory();
  // The program's own memory: half its reservation, in one block (at most 2^kMaxHeapOrder pages). It goes with the
  // reservation when the process ends.
  u32 order = floor_log2(pages_for(spec.memory_bytes) / 2);
  if (order > kMaxHeapOrder) order = kMaxHeapOrder;
  Result<PhysAddr> block = account->alloc_pages(order);
  while (block.is_error() && order > 0) block = account->alloc_pages(--order);
  if (block.is_error()) return undo(Error::no_memory);
  auto* memory = account->direct_map().to_virt<u8>(*block);
  const u64 memory_bytes = kPageSize << order;
  // The environments sit at the start of the program's memory; the rest is split evenly between the cores.
  const u64 envs_bytes = align_down(u64{spec.cores} * sizeof(abi::ProgramEnv) + 63, 64);
  const u64 share = align_down((memory_bytes - envs_bytes) / spec.cores, 64);
  if (share < 64 * KiB) return undo(Error::invalid_argument);
  for (u32 i = 0; i < spec.cores; ++i) {
    Result<Ring*> ring = Ring::create(*st->process, memory, memory_bytes, RingConfig{});
    if (ring.is_error()) return undo(ring.error());
    st->rings[i] = *ring;
    auto* env = new (memory + i * sizeof(abi::ProgramEnv)) abi::ProgramEnv();
    st->envs[i] = env;
    env->ring = (*ring)->header();
    env->heap = memory + envs_bytes + i * share;
    env->heap_bytes = share;
    env->memory = memory;
    env->memory_bytes = memory_bytes;
    env->cores = spec.cores;
    env->core_index = i;
    for (usize k = 0; k < sizeof(env->name) - 1 && program->name[k] != '\0'; ++k) env->name[k] = program->name[k];
    for (usize k = 0; k < spec.args.size(); ++k) env->args[k] = spec.args[k];
    env->doorbell = [](void* ctx) { static_cast<Ring*>(ctx)->doorbell(); };
    env->wait_completions = [](void* ctx, u32 min) { static_cast<Ring*>(ctx)->wait_completions(min); };
    env->syscall_ctx = *ring;
    env->now_ns = [] { return Platform::now_ns(); };
    // A killed process's tasks end at their next kernel entry. A program that is busy never enters the kernel (no
    // system call in the steady state), so these hooks are entries too: in hosted mode they stand in for the
    // interrupt a killing CPU sends on real hardware.
    env->work_ns = [](u64 ns) {
      Platform::delay_ns(ns);
      sched::scheduler().exit_if_killed();
    };
    env->relax = [] {
      Platform::cpu_relax();
      sched::scheduler().exit_if_killed();
    };
  }
  return st;
}

void Runtime::abort_process(Started* st) {
  for (u32 i = 0; i < st->cores; ++i)
    if (st->rings[i] != nullptr) st->rings[i]->destroy();
  if (st->pid != sched::kNoProcess) sched_.exit_process(st->pid).expect("undo spawn");
  destroy(st).expect("launch record");
}

void Runtime::start_process(Started* st, std::span<cap::Capability> caps) {
  cap::HandleTable& table = st->process->handles();
  PLATYPOS_ASSERT(caps.size() <= abi::kMaxInitialHandles && table.free_slots() > caps.size(),
                  "launch: no room for the initial handles");
  abi::ProgramEnv* env0 = st->envs[0];
  table.install(caps, env0->initial_handles).expect("initial handles");
  env0->initial_handle_count = static_cast<u32>(caps.size());
  cap::ProcessObject* obj = st->process->object();
  env0->self = table.add(cap::Ref<cap::KernelObject>::retain(obj), kSelfRights).expect("self handle");
  for (u32 i = 1; i < st->cores; ++i) {
    abi::ProgramEnv* env = st->envs[i];
    for (u32 k = 0; k < env0->initial_handle_count; ++k) env->initial_handles[k] = env0->initial_handles[k];
    env->initial_handle_count = env0->initial_handle_count;
    env->self = env0->self;
  }
  for (u32 i = 0; i < st->cores; ++i) {
    Ring* ring = st->rings[i];
    ring->set_program(st->program->main, st->envs[i]);
    {
      IrqSpinGuard g(lock_);
      servers_[next_server_++ % server_count_].add(ring);
    }
    ring->watch_exit(cap::Ref<cap::ProcessObject>::retain(obj));
  }
  // (Logged before the tasks exist: once they do, the process may be gone.)
  log_info("launch {}: process {:#x}, {} cores, {} KiB, args '{}'", st->program->name, st->pid, st->cores,
           st->process->memory()->capacity_bytes() / KiB, static_cast<const char*>(env0->args));
  // The tasks last: the first may run (and exit the process) at once.
  for (u32 i = 0; i < st->cores; ++i) {
    auto t = sched_.create_task(st->pid, st->program->name, &Ring::program_task, st->rings[i]);
    if (t.is_error()) {
      // No memory for a task (or its stack) after all: the process exits at once, with the error as its code; its
      // rings are retired like any exited process's (found by platypos-sim --explore).
      log_warn("launch {}: process {:#x}: no task on core {}: {}", st->program->name, st->pid, i, error_name(t.error()));
      (void)sched_.exit_process(st->pid, -static_cast<i64>(t.error()));
      break;
    }
  }
  destroy(st).expect("launch record");
}

Result<cap::Ref<cap::ProcessObject>> Runtime::launch(const LaunchSpec& spec, std::span<cap::Capability> caps) {
  if (server_count_ == 0) return Error::bad_state;
  if (caps.size() > abi::kMaxInitialHandles) return Error::invalid_argument;
  const ProgramDescriptor* program = find_program(spec.program);
  if (program == nullptr) return Error::not_found;
  Started* st = PLATYPOS_TRY(prepare(spec, program));
  auto obj = cap::Ref<cap::ProcessObject>::retain(st->process->object());
  start_process(st, caps);
  return obj;
}

Result<cap::Ref<cap::ProcessObject>> Runtime::spawn_from(const LaunchSpec& spec, cap::HandleTable& parent,
                                                         std::span<const cap::Handle> handles) {
  if (server_count_ == 0) return Error::bad_state;
  if (handles.size() > abi::kMaxInitialHandles) return Error::invalid_argument;
  const ProgramDescriptor* program = find_program(spec.program);
  if (program == nullptr) return Error::not_found;
  Started* st = PLATYPOS_TRY(prepare(spec, program));
  cap::Capability caps[abi::kMaxInitialHandles];
  if (auto r = parent.transfer_out(handles, nullptr, nullptr, caps); r.is_error()) {
    abort_process(st);
    return r.error();
  }
  auto obj = cap::Ref<cap::ProcessObject>::retain(st->process->object());
  start_process(st, std::span(caps, handles.size()));
  return obj;
}

}  // namespace platypos::ring
