#include <platypos/cap/event.hpp>
#include <platypos/cap/log_namespace.hpp>
#include <platypos/cap/memory_object.hpp>
#include <platypos/cap/opaque_ref.hpp>
#include <platypos/cap/process_object.hpp>

#include <gtest/gtest.h>

#include <string>

#include "cap/cap_fixture.hpp"
#include "test_support.hpp"

namespace platypos::cap {
namespace {

using test::Domain;
using test::Kernel;

TEST(Event, UserSignalsAndObservers) {
  Kernel k;
  auto ev = Event::create().value();
  int fired = 0;
  Observer o;
  o.wanted = 1u << 24;
  o.context = &fired;
  o.callback = [](Observer* self) { ++*static_cast<int*>(self->context); };
  EXPECT_FALSE(ev->observe(o));
  EXPECT_EQ(ev->signal(0, kSignalReadable).error(), Error::invalid_argument);  // only user bits
  ASSERT_TRUE(ev->signal(0, 1u << 25).has_value());
  EXPECT_EQ(fired, 0);
  ASSERT_TRUE(ev->signal(0, 1u << 24).has_value());
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(o.fired);
  EXPECT_EQ(o.observed & (3u << 24), 3u << 24);
  EXPECT_FALSE(ev->cancel(o));  // already fired and removed
  // Already set: fires on registration.
  Observer now;
  now.wanted = 1u << 24;
  EXPECT_TRUE(ev->observe(now));
}

TEST(ProcessObject, ExitIsASignal) {
  Kernel k;
  auto p = ProcessObject::create(0x123).value();
  EXPECT_FALSE(p->exited());
  p->mark_exited(-7);
  EXPECT_TRUE(p->signals() & kSignalExited);
  EXPECT_EQ(p->exit_code(), -7);
  EXPECT_EQ(p->pid(), 0x123u);
}

TEST(MemoryObject, PagesFromTheOwnersAccount) {
  Kernel k;
  Domain owner(k, 1 * MiB);
  const u64 used0 = owner.account->used_bytes();
  {
    auto mo = MemoryObject::create(*owner.account, 3 * kPageSize + 10).value();
    EXPECT_EQ(mo->size(), 4 * kPageSize);
    EXPECT_GE(owner.account->used_bytes(), used0 + 4 * kPageSize);
    const std::string msg = "across a page boundary";
    ASSERT_TRUE(mo->write(kPageSize - 5, std::span(reinterpret_cast<const u8*>(msg.data()), msg.size())).has_value());
    std::string back(msg.size(), '\0');
    ASSERT_TRUE(mo->read(kPageSize - 5, std::span(reinterpret_cast<u8*>(back.data()), back.size())).has_value());
    EXPECT_EQ(back, msg);
    u8 z = 1;
    ASSERT_TRUE(mo->read(3 * kPageSize, std::span(&z, 1)).has_value());
    EXPECT_EQ(z, 0);  // zero-filled
    EXPECT_EQ(mo->read(4 * kPageSize - 1, std::span(&z, 2)).error(), Error::out_of_range);
    // Offsets a program may send whose end wraps past 2^64: outside, not a small end inside.
    u8 buf[4] = {};
    EXPECT_EQ(mo->read(~u64{0}, std::span(buf, 2)).error(), Error::out_of_range);
    EXPECT_EQ(mo->write(~u64{0} - 1, std::span<const u8>(buf, 3)).error(), Error::out_of_range);
    EXPECT_TRUE(mo->write(4 * kPageSize, std::span<const u8>(buf, 0)).has_value());  // empty, at the end: inside
    EXPECT_EQ(mo->write(4 * kPageSize + 1, std::span<const u8>(buf, 0)).error(), Error::out_of_range);
    EXPECT_EQ(mo->page_at(4 * kPageSize).error(), Error::out_of_range);
    EXPECT_EQ(MemoryObject::create(*owner.account, 0).error(), Error::invalid_argument);
    EXPECT_EQ(MemoryObject::create(*owner.account, 2 * MiB).error(), Error::no_memory);  // beyond its reservation
  }
  owner.account->reclaim();
  EXPECT_EQ(owner.account->used_bytes(), used0);
}

TEST(LogNamespace, WriteOnlyHandlesAndBackpressure) {
  Kernel k;
  Domain daemon(k), app(k);
  auto log = LogNamespace::create(*daemon.account, "app-1", 2 * abi::kMaxLogRecord).value();
  EXPECT_EQ(log->name(), "app-1");
  const Handle read_side =
      daemon.table.add(Ref<KernelObject>::retain(log.get()), Rights::read | Rights::duplicate | Rights::transfer)
          .value();
  const Handle write_only = daemon.table.duplicate(read_side, Rights::transfer).value();
  (void)write_only;
  const Handle app_h = app.table.add(Ref<KernelObject>::retain(log.get()), Rights::write).value();
  // The app can write, not read.
  EXPECT_TRUE(app.table.get_as<LogNamespace>(app_h, Rights::write).has_value());
  EXPECT_EQ(app.table.get_as<LogNamespace>(app_h, Rights::read).error(), Error::access_denied);
  auto w = app.table.get_as<LogNamespace>(app_h, Rights::write).value();
  const std::string line = "request served in 24 us";
  ASSERT_TRUE(w->write(std::span(reinterpret_cast<const u8*>(line.data()), line.size())).has_value());
  EXPECT_TRUE(log->signals() & kSignalReadable);
  // Fill it: then the app is refused until the daemon drains.
  const std::vector<u8> rec(abi::kMaxLogRecord, 'x');
  EXPECT_TRUE(w->write(rec).has_value());
  EXPECT_EQ(w->write(rec).error(), Error::limit_reached);
  EXPECT_EQ(w->write({}).error(), Error::invalid_argument);
  auto r = daemon.table.get_as<LogNamespace>(read_side, Rights::read).value();
  u8 buf[8];
  usize needed = 0;
  EXPECT_EQ(r->read(buf, &needed).error(), Error::buffer_too_small);
  EXPECT_EQ(needed, line.size());
  std::vector<u8> out(abi::kMaxLogRecord);
  EXPECT_EQ(r->read(out).value(), line.size());
  EXPECT_EQ(std::string(out.begin(), out.begin() + static_cast<long>(line.size())), line);
  EXPECT_EQ(r->read(out).value(), abi::kMaxLogRecord);
  EXPECT_EQ(r->read(out).error(), Error::would_block);
  EXPECT_FALSE(log->signals() & kSignalReadable);
  EXPECT_EQ(LogNamespace::create(*daemon.account, "", 4096).error(), Error::invalid_argument);
}

TEST(OpaqueRef, OnlyTheIssuerResolves) {
  Kernel k;
  auto server_key = Event::create().value();
  auto other_key = Event::create().value();
  auto ref = OpaqueRef::create(Ref<KernelObject>::retain(server_key.get()), 0xb10b).value();
  EXPECT_EQ(ref->resolve(*server_key).value(), 0xb10bu);
  EXPECT_EQ(ref->resolve(*other_key).error(), Error::access_denied);
  EXPECT_EQ(ref->resolve(*ref).error(), Error::access_denied);
  EXPECT_EQ(OpaqueRef::create(Ref<KernelObject>(), 1).error(), Error::invalid_argument);
}

}  // namespace
}  // namespace platypos::cap
