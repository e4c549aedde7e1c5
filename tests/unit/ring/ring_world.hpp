#pragma once
// RingWorld: the simulator, a kernel, and the ring runtime, for tests that run programs end to end. A supervisor
// kernel task launches the programs a test asks for, waits until every one has exited, stops the ring servers and
// the scheduler; then the test looks at exit codes, statistics and leaks.

#include <platypos/cap/object.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/runtime/runtime.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace platypos::ring::testing {

struct Launch {
  Launch(std::string program_, std::string args_ = {}, u32 cores_ = 1, u64 memory_ = 4 * MiB, u32 cq_entries_ = 0)
      : program(std::move(program_)), args(std::move(args_)), cores(cores_), memory(memory_), cq_entries(cq_entries_) {}
  std::string program;
  std::string args;
  u32 cores;
  u64 memory;
  u32 cq_entries;  // 0: the default
};

struct Outcome {
  hosted::SimReport report;
  std::vector<i64> exit_codes;  // per launch, in order (launch failures: -1000 - error)
  u64 end_ns = 0;
};

class RingWorld {
 public:
  enum class Mode { sim, threads };
  explicit RingWorld(u32 cpus = 4, u32 kernel_cores = 1, u64 seed = 7, Mode mode = Mode::sim)
      : sim_(make_sim(mode, cpus, seed)),
        machine_(make_machine(mode, cpus)),
        kernel_({.cpus = cpus, .kernel_cores = kernel_cores}),
        runtime_(kernel_.processes(), linked_programs()) {}

  sched::Scheduler& scheduler() { return kernel_.scheduler(); }
  Runtime& runtime() { return runtime_; }
  hosted::Kernel& kernel() { return kernel_; }

  // Launches `launches` (in order) and runs until they have all exited.
  Outcome run(std::vector<Launch> launches, u32 servers = 1) {
    Outcome out;
    struct Ctx {
      RingWorld* w;
      std::vector<Launch>* launches;
      Outcome* out;
      u32 servers;
    } ctx{this, &launches, &out, servers};
    const u64 objects_before = cap::KernelObject::live_objects();
    (void)objects_before;
    kernel_.scheduler()
        .create_task(
            sched::kNoProcess, "supervisor",
            [](void* a) {
              auto* c = static_cast<Ctx*>(a);
              Runtime& rt = c->w->runtime_;
              rt.start(c->servers).expect("ring servers");
              std::vector<cap::Ref<cap::ProcessObject>> procs;
              for (const Launch& l : *c->launches) {
                auto p =
                    rt.launch({.program = l.program, .cores = l.cores, .memory_bytes = l.memory, .args = l.args,
                               .cq_entries = l.cq_entries},
                              {});
                procs.push_back(p.has_value() ? std::move(*p) : cap::Ref<cap::ProcessObject>());
                c->out->exit_codes.push_back(p.has_value() ? 0 : -1000 - static_cast<i64>(p.error()));
              }
              for (usize i = 0; i < procs.size(); ++i) {
                if (!procs[i]) continue;
                (void)cap::wait_signals(*procs[i], cap::kSignalExited, 0);
                c->out->exit_codes[i] = procs[i]->exit_code();
              }
              procs.clear();
              c->out->end_ns = finish(rt);
            },
            &ctx)
        .expect("supervisor");
    out.report = simulate();
    return out;
  }

  // A supervisor's last act, once every process it launched has exited: lets the servers retire the rings of the
  // exited processes, then stops them and the scheduler. Returns when the last ring went.
  static u64 finish(Runtime& rt) {
    (void)rt.shutdown();
    const u64 end = Platform::now_ns();
    sched::scheduler().stop();
    return end;
  }

  // Runs the machine with whatever tasks the test created (a test with its own supervisor).
  hosted::SimReport simulate() {
    if (sim_) return sim_->run([&](CpuId) { kernel_.scheduler().run_cpu(); });
    machine_->run([&](CpuId) { kernel_.scheduler().run_cpu(); });
    return {};
  }

 private:
  static std::optional<hosted::SimMachine> make_sim(Mode mode, u32 cpus, u64 seed) {
    if (mode != Mode::sim) return std::nullopt;
    return std::optional<hosted::SimMachine>(std::in_place,
                                             hosted::SimConfig{.cpus = cpus, .seed = seed, .memory_bytes = 256 * MiB});
  }
  static std::unique_ptr<hosted::Machine> make_machine(Mode mode, u32 cpus) {
    if (mode != Mode::threads) return nullptr;
    return std::make_unique<hosted::Machine>(hosted::MachineConfig{.cpus = cpus, .memory_bytes = 256 * MiB});
  }

  std::optional<hosted::SimMachine> sim_;
  std::unique_ptr<hosted::Machine> machine_;
  hosted::Kernel kernel_;
  Runtime runtime_;
};

}  // namespace platypos::ring::testing
