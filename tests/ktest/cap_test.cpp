// Capabilities on the machine they run on: handle tables and channels over the kernel's real memory, and a task
// waiting on an object's signals with the machine's timer.

#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/ktest/ktest.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/sched/scheduler.hpp>

#include <new>

namespace platypos::cap {
namespace {

struct Domain {
  Domain() {
    account = MemoryAccount::create(KernelMemory::instance()->page_source(), 1 * MiB).expect("account");
    table.init(*account, 32).expect("table");
  }
  ~Domain() {
    table.close_all();
    account->release();
  }
  MemoryAccount* account;
  HandleTable table;
};

constexpr Rights kEnd = Rights::read | Rights::write | Rights::transfer | Rights::wait;

KTEST(cap, channel_moves_bytes_and_handles) {
  const u64 objects0 = KernelObject::live_objects();
  {
    Domain a, b;
    auto pair = ChannelEndpoint::create();
    KASSERT_OK(pair);
    const Handle wa = a.table.add(Ref<KernelObject>(static_cast<Ref<ChannelEndpoint>&&>(pair->a)), kEnd).value();
    const Handle rb = b.table.add(Ref<KernelObject>(static_cast<Ref<ChannelEndpoint>&&>(pair->b)), kEnd).value();
    const Handle ev = a.table.add(Event::create().value(), Rights::wait | Rights::transfer).value();
    const u8 msg[5] = {'p', 'l', 'a', 't', 'y'};
    auto w = a.table.get_as<ChannelEndpoint>(wa, Rights::write);
    KASSERT_OK(w);
    KASSERT_OK((*w)->write(a.table, *a.account, msg, std::span(&ev, 1)));
    KEXPECT_EQ(a.table.count(), 1u);
    KEXPECT_EQ(a.table.info(ev).error(), Error::bad_handle);  // it moved
    auto r = b.table.get_as<ChannelEndpoint>(rb, Rights::read);
    KASSERT_OK(r);
    u8 buf[8] = {};
    Handle got = kInvalidHandle;
    auto sizes = (*r)->read(b.table, buf, std::span(&got, 1));
    KASSERT_OK(sizes);
    KEXPECT_EQ(sizes->bytes, 5u);
    KEXPECT_EQ(buf[4], 'y');
    KEXPECT_EQ(b.table.info(got).value().type, ObjectType::event);
    KEXPECT_EQ(b.table.info(got).value().rights, Rights::wait | Rights::transfer);
  }
  KEXPECT_EQ(KernelObject::live_objects(), objects0);
  KEXPECT_EQ(ChannelEndpoint::live_messages(), 0u);
}

KTEST(cap, bad_handles_and_revocation) {
  Domain d;
  const Handle h = d.table.add(Event::create().value(), Rights::wait | Rights::duplicate | Rights::manage).value();
  const Handle weak = d.table.duplicate(h, Rights::wait).value();
  KEXPECT_EQ(d.table.get(weak, Rights::signal, ObjectType::event).error(), Error::access_denied);
  KEXPECT_EQ(d.table.get(weak, Rights::wait, ObjectType::channel).error(), Error::wrong_type);
  KEXPECT_EQ(d.table.get(weak ^ 0x10000, Rights::wait, ObjectType::event).error(), Error::bad_handle);
  KEXPECT_EQ(d.table.duplicate(weak, Rights::wait).error(), Error::access_denied);
  KASSERT_OK(d.table.revoke(h));
  KEXPECT_EQ(d.table.get(weak, Rights::wait, ObjectType::event).error(), Error::revoked);
  KEXPECT_OK(d.table.get(h, Rights::wait, ObjectType::event));
}

alignas(sched::Scheduler) constinit unsigned char g_sched_storage[sizeof(sched::Scheduler)] = {};

struct WaitWorld {
  Event* ev;
  u32 got = 0;
  Error timeout = Error::none;
};

KTEST(cap, task_waits_for_a_signal) {
  auto* s =
      new (g_sched_storage) sched::Scheduler({.cpus = 1, .kernel_cores = 1}, KernelMemory::instance()->page_source());
  sched::Scheduler::install(s);
  Ref<Event> ev = Event::create().value();
  WaitWorld w{ev.get()};
  KASSERT_OK(s->create_task(
      sched::kNoProcess, "waiter",
      [](void* a) {
        auto* w = static_cast<WaitWorld*>(a);
        w->got = wait_signals(*w->ev, 1u << 24, 0).value_or(0);
        w->timeout = wait_signals(*w->ev, 1u << 25, Platform::now_ns() + 1'000'000).error_or_none();
        sched::scheduler().stop();
      },
      &w));
  KASSERT_OK(s->create_task(
      sched::kNoProcess, "signaller",
      [](void* a) {
        sched::scheduler().sleep_for(200'000);
        static_cast<WaitWorld*>(a)->ev->signal(0, 1u << 24).expect("signal");
      },
      &w));
  s->run_cpu();
  Platform::set_timer_handler(nullptr);
  Platform::timer_cancel();
  sched::Scheduler::install(nullptr);
  s->~Scheduler();
  KEXPECT_EQ(w.got & (1u << 24), 1u << 24);
  KEXPECT_EQ(w.timeout, Error::timed_out);
}

}  // namespace
}  // namespace platypos::cap
