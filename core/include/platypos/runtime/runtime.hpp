#pragma once
// Runtime: programs as processes. Launching a program admits a process (cores, memory), gives it a ring pair, its
// own memory to work in, the handles its parent passed, and a first task that runs the program's main function on
// one of its app cores. The runtime's ring servers (one kernel task per kernel core) serve the rings. When the
// process exits, its ring is retired: parked operations cancelled, everything released.
//
// Programs register themselves at link time: PLATYPOS_PROGRAM(name, entry) (abi/program.hpp) in a program's source
// file puts a descriptor in the `platypos_programs` section (no global constructors); launch() finds them by name.

#include <platypos/abi/program.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/proc/process.hpp>
#include <platypos/ring/server.hpp>
#include <platypos/sched/scheduler.hpp>

#include <span>
#include <string_view>

namespace platypos::ring {

using abi::ProgramDescriptor;
using abi::ProgramMain;

// Every program linked into the image, through the linker section. Inline on purpose: only the kernel's (or hosted
// binary's) main refers to the section's bounds, which a freestanding core library cannot define; the Runtime gets
// the list from there.
extern "C" {
[[gnu::weak]] extern const ProgramDescriptor* const
    __start_platypos_programs[];  // NOLINT(bugprone-dynamic-static-initializers): linker-defined
[[gnu::weak]] extern const ProgramDescriptor* const
    __stop_platypos_programs[];  // NOLINT(bugprone-dynamic-static-initializers): linker-defined
}
inline std::span<const ProgramDescriptor* const> linked_programs() {
  if (__start_platypos_programs == nullptr) return {};
  return {__start_platypos_programs, static_cast<usize>(__stop_platypos_programs - __start_platypos_programs)};
}

struct LaunchSpec {
  std::string_view program = {};
  u32 cores = 1;
  u64 memory_bytes = 8 * MiB;
  std::string_view args = {};
  u32 handles = abi::kProcessHandles;  // handle table capacity
  // Completion queue entries of each of its rings (a power of two up to abi::kMaxCqEntries; 0: the default): how
  // many operations one core of it can have in flight at once.
  u32 cq_entries = 0;
  MemoryAccount* payer = nullptr;      // pays for the process object: the parent's account (nullptr: the kernel)
};

class Runtime {
 public:
  static constexpr u32 kMaxServers = 16;

  // `programs`: what launch() can start (pass linked_programs()).
  Runtime(proc::ProcessTable& processes, std::span<const ProgramDescriptor* const> programs)
      : processes_(processes), programs_(programs) {}
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // The network device the servers' lanes drive (before start(); none: the net ops fail with not_supported).
  void set_net(const io::NetDevice* device) { net_ = device; }
  const io::NetDevice* net() const { return net_; }
  // The file device (io/file.hpp), carried by the same per-core device as the network (before start(); none: the
  // file ops fail with not_supported).
  void set_files(const io::FileDevice* device) { files_ = device; }
  const io::FileDevice* files() const { return files_; }

  // Starts `servers` ring-server tasks (usually one per kernel core), and the process table's reaper. Fails with
  // invalid_argument (0 or too many) or like create_task.
  Result<void> start(u32 servers, u64 idle_ns = RingServer::kDefaultIdleNs);
  // Stops the servers and the reaper (once every launched process is gone they have nothing left to do).
  void stop();
  // A supervisor's last act, once every process it launched has exited (from a kernel task): sleeps until the servers
  // have retired every ring and their network lanes have let go of every socket (a closed stream sends what it had
  // queued first), then stop(). If `deadline_ns` (0: none) passes first, fails with timed_out and leaves
  // the runtime running: the rings still there name their processes (for_each_ring on each server), and they would
  // outlive the runtime's destruction.
  Result<void> shutdown(u64 deadline_ns = 0);
  // Rings on the servers (not yet retired).
  usize ring_count() const;
  // Sockets the network device still holds, over every lane.
  u64 open_sockets();
  // File requests the devices still hold, over every lane.
  u64 file_requests();

  // Launches `spec.program` with `caps` as its initial handles (moved in, in order; at most kMaxInitialHandles).
  // Returns a reference to the new process's object. Fails with not_found (no such program), invalid_argument
  // (too many handles, bad sizes), no_resources (admission: cores, memory), no_memory.
  Result<cap::Ref<cap::ProcessObject>> launch(const LaunchSpec& spec, std::span<cap::Capability> caps);
  // The process_spawn operation: launches with handles moved out of `parent`'s table. All or nothing: if the
  // launch or the handles fail, the child is gone and the parent's table is as it was.
  Result<cap::Ref<cap::ProcessObject>> spawn_from(const LaunchSpec& spec, cap::HandleTable& parent,
                                                  std::span<const cap::Handle> handles);

  sched::Scheduler& scheduler() { return processes_.scheduler(); }
  proc::ProcessTable& processes() { return processes_; }
  const ProgramDescriptor* find_program(std::string_view name) const;
  u32 server_count() const { return server_count_; }
  RingServer& server(u32 i) { return servers_[i]; }

 private:
  struct Started;
  // The rings' Spawner (process_spawn): spawn_from on the runtime that made the ring.
  static Result<cap::Ref<cap::ProcessObject>> spawn_for(void* runtime, const SpawnRequest& request,
                                                        cap::HandleTable& parent, std::span<const cap::Handle> handles);
  // Admits the process and sets up its ring and memory, without starting it (undone on failure).
  Result<void> prepare(const LaunchSpec& spec, const ProgramDescriptor* program, Started& st);
  // Installs the initial handles and starts the first task (cannot fail after prepare() took room for them).
  void start_process(Started* st, std::span<cap::Capability> caps);
  void abort_process(Started* st);

  proc::ProcessTable& processes_;
  std::span<const ProgramDescriptor* const> programs_;
  RingServer servers_[kMaxServers];
  u32 server_count_ = 0;
  u32 next_server_ = 0;
  const io::NetDevice* net_ = nullptr;
  const io::FileDevice* files_ = nullptr;
  SpinLock lock_{"runtime"};
};

}  // namespace platypos::ring
