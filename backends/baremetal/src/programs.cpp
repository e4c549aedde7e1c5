#include "programs.hpp"

#include "smp.hpp"
#include "user.hpp"

#include <platypos/baremetal/smp.hpp>
#include <platypos/base/format.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>
#include <platypos/sched/scheduler.hpp>

#include <new>
#include <utility>

namespace platypos::baremetal::programs {
namespace {

using sched::Scheduler;

constexpr u64 kProgramMemory = 4 * MiB;
constexpr u64 kStoreMemory = 8 * MiB;
constexpr u64 kDemoMemory = 4 * MiB;
// A set that has not ended after this long (TSC time: QEMU's TCG runs the guest many times slower than hardware,
// and the sets take well under a second of it) is reported with what its processes wait for and killed.
constexpr u64 kSetDeadlineNs = 120 * kNsPerSec;
constexpr u64 kPollNs = 200 * kNsPerUs;
constexpr u32 kMaxMembers = 4;
constexpr cap::Rights kChannelRights =
    cap::Rights::read | cap::Rights::write | cap::Rights::transfer | cap::Rights::duplicate | cap::Rights::wait;

// What a member's exit code must be for its set to pass: 0, or the kernel's code for a process killed by a CPU
// exception in ring 3, -(1000 + vector).
constexpr i64 kKilledByPageFault = -1014;
constexpr i64 kKilledByInvalidOpcode = -1006;

// One launch of a set: a program, its command line, and which ends of the set's channels it gets (in order).
struct Member {
  const char* label;
  const char* program;
  u64 memory;
  const char* args;
  // Initial handles: channel endpoints, numbered 2*c (end a of channel c) and 2*c+1 (end b); -1 ends the list.
  int ends[3];
  i64 expect = 0;  // its exit code when all is well
  // The isolation test: the args get " peer_memory=0x..." appended, the kernel address of the set's first member's
  // program memory (launched first; waited for until its address space exists).
  bool peer_memory = false;
};

struct Set {
  const char* name;
  const char* what;
  u32 channels;
  Member members[kMaxMembers];
  u32 count;
  u32 app_cores;  // all of its processes at once, children included
};

// The echo client's load is sized for TCG: 500 requests offered at 20000/s.
constexpr Set kSets[] = {
    {"echo",
     "echo-server and echo-client on one channel",
     1,
     {{"echo-server", "echo-server", kProgramMemory, "work_ns=2000", {1, -1, -1}},
      {"echo-client", "echo-client", kProgramMemory, "rate=20000 count=500 size=64 seed=1", {0, -1, -1}}},
     2,
     2},
    {"logship",
     "log-daemon and the 2 log-apps it spawns",
     0,
     {{"log-daemon",
       "log-daemon",
       kProgramMemory,
       "apps=2 records=5 interval_us=2000 app_memory=4194304 seed=1",
       {-1, -1, -1}}},
     1,
     3},
    {"objstore",
     "object-store and two store-clients",
     3,
     {{"object-store", "object-store", kStoreMemory, "clients=2", {1, 3, -1}},
      {"store-client alice", "store-client", kProgramMemory, "role=put name=alice peer=bob blobs=2 seed=1", {0, 4, -1}},
      {"store-client bob", "store-client", kProgramMemory, "role=get name=bob peer=alice expect=2", {2, 5, -1}}},
     3,
     3},
    {"faults",
     "t-user-fault: processes touching kernel memory, unmapped memory, and an invalid opcode (each must be killed)",
     0,
     {{"t-user-fault kernel", "t-user-fault", kProgramMemory, "what=kernel", {-1, -1, -1}, kKilledByPageFault},
      {"t-user-fault other", "t-user-fault", kProgramMemory, "what=other", {-1, -1, -1}, kKilledByPageFault},
      {"t-user-fault ud", "t-user-fault", kProgramMemory, "what=ud", {-1, -1, -1}, kKilledByInvalidOpcode}},
     3,
     3},
    {"isolation",
     "t-user-peer: a process reaching for another process's memory (must be refused, then killed; the other unharmed)",
     1,
     {{"t-user-peer victim", "t-user-peer", kProgramMemory, "role=victim", {0, -1, -1}},
      {"t-user-peer attacker", "t-user-peer", kProgramMemory, "role=attacker", {1, -1, -1}, kKilledByPageFault, true}},
     2,
     2},
    {"bench",
     "t-syscall-bench: a ring round trip against a syscall round trip, in TSC cycles",
     0,
     {{"t-syscall-bench", "t-syscall-bench", kProgramMemory, "rounds=2000", {-1, -1, -1}}},
     1,
     1},
    {"demo",
     "every example at once, wired together, and a verdict",
     0,
     {{"demo", "demo", kDemoMemory, "", {-1, -1, -1}}},
     1,
     9},
};
constexpr const char* kDefaultSets = "echo,logship";

// The next comma-separated name in `rest`, which moves past it (and its comma). (By hand: string_view's find and
// substr pull in memchr and a throwing bounds check, neither of which the kernel has.)
std::string_view next_name(std::string_view& rest) {
  usize n = 0;
  while (n < rest.size() && rest[n] != ',') ++n;
  const std::string_view name(rest.data(), n);
  rest = n < rest.size() ? std::string_view(rest.data() + n + 1, rest.size() - n - 1) : std::string_view{};
  return name;
}

const Set* find_set(std::string_view name) {
  for (const Set& s : kSets)
    if (name == s.name) return &s;
  return nullptr;
}

struct World {
  Scheduler* sched = nullptr;
  ring::Runtime* runtime = nullptr;
  u32 kernel_cores = 1;
  std::string_view sets;
  u32 processes = 0;  // launched by the kernel (children the programs spawn not counted)
  u32 failures = 0;
  bool done = false;
};

// The kernel's init task: runs the sets one after another, then stops every CPU's scheduler.
void run_set(World* w, const Set& set) {
  print("run: {}: {} ({} app cores)\n", set.name, set.what, set.app_cores);
  const u32 free = w->sched->free_app_cores();
  if (free < set.app_cores) {
    // Not refused here: the launches below are what must fail cleanly (and say why).
    print("run: {}: needs {} free app cores, {} are free: some launches will be refused\n", set.name, set.app_cores,
          free);
  }
  // The set's channels.
  cap::Ref<cap::ChannelEndpoint> ends[2 * 3];
  for (u32 c = 0; c < set.channels; ++c) {
    auto pair = cap::ChannelEndpoint::create();
    if (pair.is_error()) {
      print("run: {}: FAIL: no channel: {}\n", set.name, error_name(pair.error()));
      ++w->failures;
      return;
    }
    ends[2 * c] = std::move(pair->a);
    ends[2 * c + 1] = std::move(pair->b);
  }
  cap::Ref<cap::ProcessObject> started[kMaxMembers];
  for (u32 i = 0; i < set.count; ++i) {
    const Member& m = set.members[i];
    cap::Capability caps[3];
    usize n = 0;
    for (int e : m.ends) {
      if (e < 0) break;
      cap::ChannelEndpoint* ep = ends[e].get();
      ep->retain();  // the capability's own reference, moved into the process on success
      caps[n++] = cap::Capability{ep, kChannelRights, ep->epoch()};
    }
    char args[160];
    usize args_len = format_to(args, sizeof args, "{}", m.args);
    if (m.peer_memory) {
      // The first member's memory, as the kernel addresses it: known once its core has built its address space.
      const void* peer = nullptr;
      const u64 until = Platform::now_ns() + kSetDeadlineNs;
      while (started[0].get() != nullptr && (peer = user::program_memory(started[0]->pid())) == nullptr &&
             !started[0]->exited() && Platform::now_ns() < until) {
        w->sched->sleep_for(kPollNs);
      }
      if (peer == nullptr) {
        for (usize k = 0; k < n; ++k) caps[k].object->release();
        print("run: {}: FAIL: cannot launch {}: {} never had an address space\n", set.name, m.label,
              set.members[0].label);
        ++w->failures;
        continue;
      }
      args_len = format_to(args, sizeof args, "{} peer_memory={:#x}", m.args, reinterpret_cast<uptr>(peer));
    }
    if (args_len >= sizeof args) args_len = sizeof args - 1;  // (format_to truncates; the sets' args are short)
    auto p = w->runtime->launch(
        {.program = m.program, .cores = 1, .memory_bytes = m.memory, .args = std::string_view(args, args_len)},
        std::span(caps, n));
    if (p.is_error()) {
      for (usize k = 0; k < n; ++k) caps[k].object->release();
      print("run: {}: cannot launch {}: {}\n", set.name, m.label, error_name(p.error()));
      ++w->failures;
      continue;
    }
    started[i] = std::move(*p);
    ++w->processes;
  }
  // The kernel keeps no channel end: a program that exits closes its side, and its peer sees peer_closed.
  for (auto& e : ends) e.reset();
  const u64 deadline = Platform::now_ns() + kSetDeadlineNs;
  for (u32 i = 0; i < set.count; ++i) {
    cap::ProcessObject* p = started[i].get();
    if (p == nullptr) continue;
    if (cap::wait_signals(*p, cap::kSignalExited, deadline).is_error()) {
      print("run: {}: FAIL: {} (process {:#x}) still running after {} s; killed\n", set.name, set.members[i].label,
            p->pid(), kSetDeadlineNs / kNsPerSec);
      (void)w->sched->exit_process(p->pid(), -9);
      (void)cap::wait_signals(*p, cap::kSignalExited, 0);
      ++w->failures;
    }
    const i64 code = p->exit_code();
    const i64 expect = set.members[i].expect;
    if (code == expect) {
      print("run: {}: {} exited with {}{}\n", set.name, set.members[i].label, code, expect != 0 ? ", as expected" : "");
    } else {
      print("run: {}: FAIL: {} exited with {}, expected {}\n", set.name, set.members[i].label, code, expect);
      ++w->failures;
    }
    started[i].reset();
  }
  // Children the programs spawned (the log-apps, the demo's) are theirs to wait for; a set ends with all gone.
  u32 left = 0;
  while (Platform::now_ns() < deadline) {
    left = 0;
    w->sched->for_each_process([&](sched::Process&) { ++left; });
    if (left == 0) break;
    w->sched->sleep_for(kPollNs);
  }
  if (left != 0) {
    print("run: {}: FAIL: {} processes left after the set ended\n", set.name, left);
    ++w->failures;
  }
}

void init_task(void* arg) {
  auto* w = static_cast<World*>(arg);
  Scheduler& s = *w->sched;
  if (auto r = w->runtime->start(w->kernel_cores); r.is_error()) {
    print("run: FAIL: cannot start the ring servers: {}\n", error_name(r.error()));
    ++w->failures;
  } else {
    std::string_view rest = w->sets;
    while (!rest.empty()) {
      const std::string_view name = next_name(rest);
      run_set(w, *find_set(name));
    }
    // The servers retire the rings of exited processes; then they stop after a last pass.
    (void)w->runtime->shutdown();
  }
  while (s.live_tasks() > 1) s.sleep_for(kPollNs);
  w->done = true;
  s.stop();
}

alignas(Scheduler) constinit unsigned char g_scheduler[sizeof(Scheduler)] = {};
alignas(ring::Runtime) constinit unsigned char g_runtime[sizeof(ring::Runtime)] = {};
alignas(proc::ProcessTable) constinit unsigned char g_processes[sizeof(proc::ProcessTable)] = {};

// Checks `text` (the value of run=); prints what is wrong, with the sets there are.
bool valid_sets(std::string_view text) {
  char known[128];
  usize len = 0;
  for (const Set& s : kSets) {
    len += format_to(known + len, sizeof known - len, "{}{}", len == 0 ? "" : ", ", s.name);
    if (len >= sizeof known) {  // truncated (format_to gives the length it wanted)
      len = sizeof known - 1;
      break;
    }
  }
  const std::string_view known_sets(known, len);
  if (text.empty()) {
    log_error("run: empty set list (known sets: {})", known_sets);
    return false;
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::string_view name = next_name(rest);
    if (find_set(name) == nullptr) {
      log_error("run: unknown set '{}' (known: {})", name, known_sets);
      return false;
    }
  }
  return true;
}

}  // namespace

bool requested(const CommandLine& cmdline) { return cmdline.has("run"); }

void run(const CommandLine& cmdline) {
  World w;
  w.sets = cmdline.value("run").value_or(kDefaultSets);
  if (!valid_sets(w.sets)) Platform::shutdown(ExitStatus::failure);
  const u32 cpus = Platform::cpu_count();
  if (const auto kc = cmdline.value("kernel_cores")) {
    u32 v = 0;
    bool digits = !kc->empty() && kc->size() <= 3;
    for (char c : *kc) {
      digits = digits && c >= '0' && c <= '9';
      v = v * 10 + static_cast<u32>(c - '0');
    }
    if (!digits || v == 0 || v > ring::Runtime::kMaxServers) {
      log_error("run: kernel_cores={}: expected 1..{}", *kc, ring::Runtime::kMaxServers);
      Platform::shutdown(ExitStatus::failure);
    }
    w.kernel_cores = v;
  }
  if (w.kernel_cores >= cpus) {
    log_error("run: {} kernel cores leave no app core on {} CPUs (boot QEMU with more: -smp N, runner --cpus N)",
              w.kernel_cores, cpus);
    Platform::shutdown(ExitStatus::failure);
  }
  print("run: {} CPUs: {} kernel cores (one ring server each), {} app cores; sets: {}\n", cpus, w.kernel_cores,
        cpus - w.kernel_cores, w.sets);

  user::init();
  KernelMemory& mem = *KernelMemory::instance();
  mem.heap().reclaim();
  const u64 free_before = mem.pages().free_pages();
  const u64 objects_before = mem.heap().live_objects();
  ring::Ring::reset_totals();

  auto* sched = new (g_scheduler)
      Scheduler({.cpus = cpus, .kernel_cores = w.kernel_cores, .policy = sched::Policy::dedicated}, mem.page_source());
  Scheduler::install(sched);
  auto* processes = new (g_processes) proc::ProcessTable(*sched);
  auto* runtime = new (g_runtime) ring::Runtime(*processes, user::programs());
  w.sched = sched;
  w.runtime = runtime;
  sched->create_task(sched::kNoProcess, "init", &init_task, &w).expect("run: the init task");
  const u64 t0 = Platform::now_ns();
  for (CpuId c = 1; c < cpus; ++c)
    smp::run_on_cpu(
        c, [](void* s) { static_cast<Scheduler*>(s)->run_cpu(); }, sched);
  sched->run_cpu();
  for (CpuId c = 1; c < cpus; ++c) smp::wait_for_cpu(c);
  const u64 elapsed = Platform::now_ns() - t0;
  Platform::set_timer_handler(nullptr);
  Platform::timer_cancel();

  bool ok = w.done && w.failures == 0;
  print("\nrun: {} processes launched, {} failures; {} ms\n", w.processes, w.failures, elapsed / kNsPerMs);
  const ring::Ring::Stats t = ring::Ring::totals();
  print(
      "rings: {} entries submitted, {} completed, {} cancelled at exit, {} parked, {} rejected; {} doorbells, {} "
      "blocking waits\n",
      t.submitted, t.completed, t.cancelled, t.parked, t.rejected, t.doorbells, t.waits);
  if (t.submitted != t.completed + t.cancelled || t.lost != 0) {
    print("INVARIANT: ring entries: {} accepted, {} completed + {} cancelled{}\n", t.submitted, t.completed,
          t.cancelled, t.lost != 0 ? " (in-flight counts wrong at exit)" : "");
    ok = false;
  }
  const user::Stats us = user::stats();
  print(
      "ring 3: {} program starts, {} system calls, {} processes killed for a CPU exception, {} threads left on a "
      "kill\n",
      us.entries, us.syscalls, us.faults, us.kills);
  print("cpu  role    switches  timer irqs  idle%\n");
  for (CpuId c = 0; c < cpus; ++c) {
    const Scheduler::CpuStats& st = sched->cpu_stats(c);
    const u64 idle_pct = elapsed == 0 ? 0 : st.idle_ns * 100 / elapsed;
    print("{:<4} {:<7} {:>8}  {:>10}  {:>5}\n", c, c < w.kernel_cores ? "kernel" : "app", st.switches, st.timer_irqs,
          idle_pct > 100 ? 100 : idle_pct);
  }
  runtime->~Runtime();
  processes->~ProcessTable();
  Scheduler::install(nullptr);
  sched->~Scheduler();

  mem.heap().reclaim();
  const u64 free_after = mem.pages().free_pages();
  const u64 objects_after = mem.heap().live_objects();
  if (free_after != free_before || objects_after != objects_before) {
    print("LEAK: {} pages free before the programs, {} after; {} kernel heap objects before, {} after\n", free_before,
          free_after, objects_before, objects_after);
    ok = false;
  } else {
    print("memory: every page returned ({} free, as before the programs), no kernel object left\n", free_after);
  }
  print("run: {}\n", ok ? "PASS" : "FAIL");
  Platform::shutdown(ok ? ExitStatus::success : ExitStatus::failure);
}

}  // namespace platypos::baremetal::programs
