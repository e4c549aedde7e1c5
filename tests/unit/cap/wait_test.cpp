// Waiting on signals and process capabilities, with the scheduler in the deterministic simulator.

#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/proc/process.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace platypos::cap {
namespace {

struct SimKernel {
  explicit SimKernel(u32 cpus = 4)
      : sim({.cpus = cpus, .seed = 3, .memory_bytes = 128 * MiB}), kernel({.cpus = cpus, .kernel_cores = 2}) {}
  hosted::SimMachine sim;
  hosted::Kernel kernel;
};

struct WaitWorld {
  Ref<Event> ev;
  u32 got = 0;
  u64 woke_at = 0;
  Error timeout_result = Error::none;
  u64 timed_out_at = 0;
};

TEST(WaitSignals, WakesOnTheSignalAndTimesOut) {
  SimKernel k;
  WaitWorld w;
  w.ev = Event::create().value();
  auto& s = k.kernel.scheduler();
  ASSERT_TRUE(s.create_task(
                   sched::kNoProcess, "waiter",
                   [](void* a) {
                     auto* w = static_cast<WaitWorld*>(a);
                     w->got = wait_signals(*w->ev, 1u << 24, 0).value();
                     w->woke_at = Platform::now_ns();
                     const u64 t0 = Platform::now_ns();
                     w->timeout_result = wait_signals(*w->ev, 1u << 25, t0 + 1'000'000).error_or_none();
                     w->timed_out_at = Platform::now_ns() - t0;
                   },
                   &w)
                  .has_value());
  ASSERT_TRUE(s.create_task(
                   sched::kNoProcess, "signaller",
                   [](void* a) {
                     auto* w = static_cast<WaitWorld*>(a);
                     sched::scheduler().sleep_for(500'000);
                     w->ev->signal(0, 1u << 24).expect("signal");
                     while (sched::scheduler().live_tasks() > 1) sched::scheduler().sleep_for(100'000);
                     sched::scheduler().stop();
                   },
                   &w)
                  .has_value());
  const auto r = k.sim.run([&](CpuId) { s.run_cpu(); });
  ASSERT_FALSE(r.stuck) << r.stuck_reason;
  EXPECT_EQ(w.got & (1u << 24), 1u << 24);
  EXPECT_GE(w.woke_at, 500'000u);
  EXPECT_LT(w.woke_at, 510'000u);  // virtual time: woken right when signalled
  EXPECT_EQ(w.timeout_result, Error::timed_out);
  EXPECT_GE(w.timed_out_at, 1'000'000u);
  w.ev.reset();
}

// A process's capabilities die with it: its handles close, messages it left queued are freed, its process object
// says exited, and its memory (handle table, messages) goes back.
TEST(ProcessCapabilities, ExitClosesEverything) {
  SimKernel k;
  auto& processes = k.kernel.processes();
  const u64 objects0 = KernelObject::live_objects();
  proc::Process* proc = processes.spawn({.name = "holder", .cores = 1, .memory_bytes = 2 * MiB, .handles = 64}).value();
  const sched::ProcessId p = proc->id();
  Ref<ProcessObject> watch = Ref<ProcessObject>::retain(&proc->object());
  HandleTable& t = proc->handles();
  EXPECT_EQ(t.capacity(), 64u);
  auto [a, b] = ChannelEndpoint::create().value();
  Ref<ChannelEndpoint> keep_b = std::move(b);  // the kernel side keeps one end
  const Handle ha = t.add(Ref<KernelObject>(std::move(a)), Rights::write | Rights::transfer).value();
  const Handle he = t.add(Event::create().value(), Rights::transfer).value();
  // The process sends its event to the other end, and keeps a second event.
  auto ep = t.get_as<ChannelEndpoint>(ha, Rights::write).value();
  ASSERT_TRUE(ep->write(t, proc->account(), {}, std::span(&he, 1)).has_value());
  ep.reset();
  ASSERT_TRUE(t.add(Event::create().value(), Rights::wait).has_value());
  EXPECT_EQ(ChannelEndpoint::live_messages(), 1u);
  // No tasks and no reaper running: torn down at once, right here.
  ASSERT_TRUE(processes.exit(p).has_value());
  EXPECT_EQ(processes.find(p), nullptr);
  EXPECT_TRUE(watch->exited());
  // Its channel end closed: the kernel's end sees PEER_CLOSED; the message it sent is still there to read (paid by
  // the dead process's memory, which stays until it is read).
  EXPECT_TRUE(keep_b->signals() & kSignalPeerClosed);
  EXPECT_EQ(keep_b->queued_messages(), 1u);
  keep_b.reset();  // close the last end: the message and its event go, then the memory
  watch.reset();
  EXPECT_EQ(ChannelEndpoint::live_messages(), 0u);
  EXPECT_EQ(KernelObject::live_objects(), objects0);
  k.kernel.reclaim();
  EXPECT_EQ(k.kernel.pages().free_pages(), k.kernel.boot_free_pages());
}

}  // namespace
}  // namespace platypos::cap
