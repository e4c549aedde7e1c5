#include <platypos/base/log.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/reservation.hpp>
#include <platypos/runtime/runtime.hpp>

#include <new>

namespace platypos::ring {
namespace {
constexpr cap::Rights kSelfRights = cap::Rights::wait | cap::Rights::manage | cap::Rights::duplicate;
constexpr u32 kMaxHeapOrder = BuddyAllocator::kMaxOrder;
constexpr u64 kMinCoreShare = 64 * KiB;  // each core's heap

// The ABI's limit is what one reservation can hold (mm/reservation.hpp), not a second definition of it.
static_assert(abi::kMaxProcessMemory <= MemoryReservation::kMaxBytes, "a process's memory is one reservation");

u32 floor_log2(u64 v) { return 63 - static_cast<u32>(__builtin_clzll(v)); }
}  // namespace

struct Runtime::Started {
  sched::ProcessId pid = sched::kNoProcess;
  proc::Process* process = nullptr;
  const ProgramDescriptor* program = nullptr;
  u32 cores = 0;
  Ring* rings[abi::kMaxProgramCores] = {};
  abi::ProgramEnv* envs[abi::kMaxProgramCores] = {};
  u8* heaps[abi::kMaxProgramCores] = {};
  char args[abi::kMaxProgramArgs] = {};  // the kernel's copy (for its log line; the envs are program memory)
};

const ProgramDescriptor* Runtime::find_program(std::string_view name) const {
  for (const ProgramDescriptor* p : programs_)
    if (p != nullptr && name == p->name) return p;
  return nullptr;
}

Result<void> Runtime::start(u32 servers, u64 idle_ns) {
  if (servers == 0 || servers > kMaxServers) return Error::invalid_argument;
  PLATYPOS_TRY(processes_.start());
  for (u32 i = 0; i < servers; ++i) {
    if (net_ != nullptr) servers_[i].attach_net(i, net_, files_);
    PLATYPOS_TRY(servers_[i].start(processes_.scheduler(), "ring-server", idle_ns));
    server_count_ = i + 1;
  }
  return ok();
}

void Runtime::stop() {
  for (u32 i = 0; i < server_count_; ++i) servers_[i].stop();
  processes_.stop();
}

u64 Runtime::open_sockets() {
  u64 n = 0;
  for (u32 i = 0; i < server_count_; ++i) {
    if (io::Lane* l = servers_[i].lane()) n += l->sockets();
  }
  return n;
}

u64 Runtime::file_requests() {
  u64 n = 0;
  for (u32 i = 0; i < server_count_; ++i) {
    if (io::Lane* l = servers_[i].lane()) n += l->requests();
  }
  return n;
}

usize Runtime::ring_count() const {
  usize n = 0;
  for (u32 i = 0; i < server_count_; ++i) n += servers_[i].ring_count();
  return n;
}

Result<void> Runtime::shutdown(u64 deadline_ns) {
  constexpr u64 kPollNs = 10'000;
  while (ring_count() != 0 || open_sockets() != 0 || file_requests() != 0) {
    if (deadline_ns != 0 && Platform::now_ns() >= deadline_ns) return Error::timed_out;
    processes_.scheduler().sleep_for(kPollNs);
  }
  stop();
  return ok();
}

Result<void> Runtime::prepare(const LaunchSpec& spec, const ProgramDescriptor* program, Started& st_) {
  if (spec.memory_bytes < abi::kMinProcessMemory || spec.memory_bytes > abi::kMaxProcessMemory ||
      spec.args.size() >= abi::kMaxProgramArgs || spec.cores == 0 || spec.cores > abi::kMaxProgramCores) {
    return Error::invalid_argument;
  }
  Started* st = &st_;
  auto undo = [&](Error e) -> Error {
    abort_process(st);
    return e;
  };
  st->program = program;
  st->cores = spec.cores;
  for (usize k = 0; k < spec.args.size(); ++k) st->args[k] = spec.args[k];
  Result<proc::Process*> process = processes_.spawn({.name = program->name,
                                                     .cores = spec.cores,
                                                     .memory_bytes = spec.memory_bytes,
                                                     .handles = spec.handles,
                                                     .payer = spec.payer});
  if (process.is_error()) return undo(process.error());
  st->process = *process;
  st->pid = (*process)->id();
  MemoryAccount* account = &st->process->account();
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
  // (A fragmented reservation may have given a block smaller than the envs: no share at all, not a wrapped one.)
  if (memory_bytes < envs_bytes + u64{spec.cores} * kMinCoreShare) return undo(Error::invalid_argument);
  const u64 share = align_down((memory_bytes - envs_bytes) / spec.cores, 64);
  for (u32 i = 0; i < spec.cores; ++i) {
    RingConfig config;
    if (spec.cq_entries != 0) config.cq_entries = spec.cq_entries;
    Result<Ring*> ring = Ring::create(*st->process, memory, memory_bytes, config);
    if (ring.is_error()) return undo(ring.error());
    st->rings[i] = *ring;
    (*ring)->set_spawner({&Runtime::spawn_for, this});
    auto* env = new (memory + i * sizeof(abi::ProgramEnv)) abi::ProgramEnv();
    st->envs[i] = env;
    env->ring = (*ring)->header();
    st->heaps[i] = memory + envs_bytes + i * share;
    env->heap = st->heaps[i];
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
  return ok();
}

void Runtime::abort_process(Started* st) {
  for (u32 i = 0; i < st->cores; ++i)
    if (st->rings[i] != nullptr) st->rings[i]->destroy();
  // It has no task: its teardown follows at once (unless someone exited it already).
  if (st->pid != sched::kNoProcess) (void)processes_.exit(st->pid);
}

void Runtime::start_process(Started* st, std::span<cap::Capability> caps) {
  cap::HandleTable& table = st->process->handles();
  PLATYPOS_ASSERT(caps.size() <= abi::kMaxInitialHandles && table.free_slots() > caps.size(),
                  "launch: no room for the initial handles");
  // Installed from kernel memory, then written into every core's env (which is program memory: never read back).
  // The table cannot be closing: the rings pin the process.
  cap::Handle handles[abi::kMaxInitialHandles];
  table.install(caps, handles).expect("initial handles");
  const cap::Handle self =
      table.add(cap::Ref<cap::KernelObject>::retain(&st->process->object()), kSelfRights).expect("self handle");
  for (u32 i = 0; i < st->cores; ++i) {
    abi::ProgramEnv* env = st->envs[i];
    for (usize k = 0; k < caps.size(); ++k) env->initial_handles[k] = handles[k];
    env->initial_handle_count = static_cast<u32>(caps.size());
    env->self = self;
  }
  // (Logged before its rings are served: from then on a kill can retire them and take the process apart, so
  // nothing below touches st->process.)
  log_info("launch {}: process {:#x}, {} cores, {} KiB, args '{}'", st->program->name, st->pid, st->cores,
           st->process->account().capacity_bytes() / KiB, static_cast<const char*>(st->args));
  for (u32 i = 0; i < st->cores; ++i) {
    Ring* ring = st->rings[i];
    ring->set_program({.entry = st->program->main, .env = st->envs[i], .index = i, .heap = st->heaps[i]});
    {
      IrqSpinGuard g(lock_);
      servers_[next_server_++ % server_count_].add(ring);
    }
    ring->watch_exit();  // fires at once if the process was exited meanwhile
  }
  // The tasks last: the first may run (and exit the process) at once.
  for (u32 i = 0; i < st->cores; ++i) {
    auto t = processes_.scheduler().create_task(st->pid, st->program->name, &Ring::program_task, st->rings[i]);
    if (t.is_error()) {
      // No memory for a task (or its stack) after all: the process exits at once, with the error as its code; its
      // rings are retired like any exited process's (found by platypos-sim --explore).
      log_warn("launch {}: process {:#x}: no task on core {}: {}", st->program->name, st->pid, i,
               error_name(t.error()));
      (void)processes_.exit(st->pid, -static_cast<i64>(t.error()));
      break;
    }
  }
}

Result<cap::Ref<cap::ProcessObject>> Runtime::launch(const LaunchSpec& spec, std::span<cap::Capability> caps) {
  if (server_count_ == 0) return Error::bad_state;
  if (caps.size() > abi::kMaxInitialHandles) return Error::invalid_argument;
  const ProgramDescriptor* program = find_program(spec.program);
  if (program == nullptr) return Error::not_found;
  Started st;
  PLATYPOS_TRY(prepare(spec, program, st));
  auto obj = cap::Ref<cap::ProcessObject>::retain(&st.process->object());
  start_process(&st, caps);
  return obj;
}

Result<cap::Ref<cap::ProcessObject>> Runtime::spawn_for(void* runtime, const SpawnRequest& request,
                                                        cap::HandleTable& parent,
                                                        std::span<const cap::Handle> handles) {
  return static_cast<Runtime*>(runtime)->spawn_from({.program = request.program,
                                                     .cores = request.cores,
                                                     .memory_bytes = request.memory_bytes,
                                                     .args = request.args,
                                                     .payer = request.payer},
                                                    parent, handles);
}

Result<cap::Ref<cap::ProcessObject>> Runtime::spawn_from(const LaunchSpec& spec, cap::HandleTable& parent,
                                                         std::span<const cap::Handle> handles) {
  if (server_count_ == 0) return Error::bad_state;
  if (handles.size() > abi::kMaxInitialHandles) return Error::invalid_argument;
  const ProgramDescriptor* program = find_program(spec.program);
  if (program == nullptr) return Error::not_found;
  Started st;
  PLATYPOS_TRY(prepare(spec, program, st));
  cap::Capability caps[abi::kMaxInitialHandles];
  if (auto r = parent.transfer_out(handles, nullptr, nullptr, caps); r.is_error()) {
    abort_process(&st);
    return r.error();
  }
  auto obj = cap::Ref<cap::ProcessObject>::retain(&st.process->object());
  start_process(&st, std::span(caps, handles.size()));
  return obj;
}

}  // namespace platypos::ring
