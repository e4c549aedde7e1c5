#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/cap/handle_table.hpp>

#include <gtest/gtest.h>

#include <set>

#include "cap/cap_fixture.hpp"
#include "test_support.hpp"

namespace platypos::cap {
namespace {

using test::Domain;
using test::Kernel;

constexpr Rights kEventRights = Rights::wait | Rights::signal | Rights::duplicate | Rights::transfer | Rights::manage;

TEST(HandleTable, AddGetInfoClose) {
  Kernel k;
  Domain d(k);
  auto ev = Event::create().value();
  const u64 koid = ev->koid();
  const Handle h = d.table.add(Ref<KernelObject>(std::move(ev)), kEventRights).value();
  EXPECT_NE(h, kInvalidHandle);
  const HandleInfo info = d.table.info(h).value();
  EXPECT_EQ(info.type, ObjectType::event);
  EXPECT_EQ(info.rights, kEventRights);
  EXPECT_EQ(info.koid, koid);
  auto got = d.table.get_as<Event>(h, Rights::signal);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)->koid(), koid);
  EXPECT_EQ(d.table.count(), 1u);
  ASSERT_TRUE(d.table.close(h).has_value());
  EXPECT_EQ(d.table.count(), 0u);
  EXPECT_EQ(d.table.get(h, Rights::none, ObjectType::event).error(), Error::bad_handle);  // closed
  EXPECT_EQ(d.table.close(h).error(), Error::bad_handle);
  EXPECT_EQ((*got)->ref_count(), 1u);  // only our Ref keeps it now
}

TEST(HandleTable, BadValuesWrongTypeMissingRights) {
  Kernel k;
  Domain d(k);
  const Handle h = d.table.add(Event::create().value(), Rights::wait).value();
  for (Handle junk : {kInvalidHandle, Handle{1}, Handle{0xffffffff}, h + 1, h ^ 0x10000, Handle{0x7fff0000}}) {
    EXPECT_EQ(d.table.get(junk, Rights::none, ObjectType::event).error(), Error::bad_handle) << junk;
    EXPECT_EQ(d.table.info(junk).error(), Error::bad_handle);
  }
  EXPECT_EQ(d.table.get(h, Rights::none, ObjectType::channel).error(), Error::wrong_type);
  EXPECT_EQ(d.table.get(h, Rights::signal, ObjectType::event).error(), Error::access_denied);
  EXPECT_EQ(d.table.duplicate(h, Rights::wait).error(), Error::access_denied);  // no DUPLICATE right
}

TEST(HandleTable, RightsOnlyShrink) {
  Kernel k;
  Domain d(k);
  const Handle h = d.table.add(Event::create().value(), Rights::wait | Rights::duplicate).value();
  const Handle weak = d.table.duplicate(h, Rights::wait).value();
  EXPECT_EQ(d.table.info(weak).value().rights, Rights::wait);
  EXPECT_EQ(d.table.duplicate(h, Rights::wait | Rights::signal).error(), Error::access_denied);
  EXPECT_EQ(d.table.duplicate(weak, Rights::wait).error(), Error::access_denied);  // weak has no DUPLICATE
  EXPECT_EQ(d.table.replace(weak, Rights::wait | Rights::duplicate).error(), Error::access_denied);
  const Handle weaker = d.table.replace(weak, Rights::none).value();
  EXPECT_EQ(d.table.info(weak).error(), Error::bad_handle);  // replaced: the old value is gone
  EXPECT_EQ(d.table.info(weaker).value().rights, Rights::none);
  EXPECT_EQ(d.table.count(), 2u);
  EXPECT_EQ(d.table.duplicate(h, static_cast<Rights>(0x400)).error(), Error::invalid_argument);
}

TEST(HandleTable, ClosedValuesAreNotReusedSoon) {
  Kernel k;
  Domain d(k, 4 * MiB, 16);
  std::set<Handle> seen;
  for (int i = 0; i < 5000; ++i) {
    const Handle h = d.table.add(Event::create().value(), Rights::wait).value();
    EXPECT_TRUE(seen.insert(h).second) << "handle value " << h << " came back after " << i << " adds";
    ASSERT_TRUE(d.table.close(h).has_value());
  }
}

TEST(HandleTable, FullTable) {
  Kernel k;
  const u64 objects0 = KernelObject::live_objects();
  {
    Domain d(k, 4 * MiB, 8);
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(d.table.add(Event::create().value(), Rights::duplicate).has_value());
    EXPECT_EQ(d.table.add(Event::create().value(), Rights::wait).error(), Error::no_resources);
    const HandleTable& t = d.table;
    EXPECT_EQ(t.free_slots(), 0u);
  }
  EXPECT_EQ(KernelObject::live_objects(), objects0);  // the refused object and the table's were all freed
}

TEST(HandleTable, RevokeStopsEveryOtherHandle) {
  Kernel k;
  Domain owner(k), other(k);
  const Handle manager = owner.table.add(Event::create().value(), kEventRights).value();
  const Handle copy = owner.table.duplicate(manager, Rights::wait | Rights::transfer).value();
  // Move the copy to the other domain through a channel.
  auto [a, b] = ChannelEndpoint::create().value();
  ASSERT_TRUE(a->write(owner.table, *owner.account, {}, std::span(&copy, 1)).has_value());
  Handle received = 0;
  ASSERT_TRUE(b->read(other.table, {}, std::span(&received, 1)).has_value());
  EXPECT_TRUE(other.table.get(received, Rights::wait, ObjectType::event).has_value());
  EXPECT_EQ(other.table.revoke(received).error(), Error::access_denied);  // no MANAGE
  ASSERT_TRUE(owner.table.revoke(manager).has_value());
  EXPECT_EQ(other.table.get(received, Rights::wait, ObjectType::event).error(), Error::revoked);
  EXPECT_EQ(other.table.duplicate(received, Rights::wait).error(), Error::revoked);
  EXPECT_TRUE(owner.table.get(manager, Rights::signal, ObjectType::event).has_value());  // the manager's goes on
  // Handles made from the manager after the revocation work; info and close still work on revoked ones.
  const Handle fresh = owner.table.duplicate(manager, Rights::wait).value();
  EXPECT_TRUE(owner.table.get(fresh, Rights::wait, ObjectType::event).has_value());
  EXPECT_TRUE(other.table.info(received).has_value());
  EXPECT_TRUE(other.table.close(received).has_value());
}

}  // namespace
}  // namespace platypos::cap
