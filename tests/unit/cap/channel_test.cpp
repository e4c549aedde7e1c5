#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cap/cap_fixture.hpp"
#include "test_support.hpp"

namespace platypos::cap {
namespace {

using test::Domain;
using test::Kernel;

constexpr Rights kChannelRights = Rights::read | Rights::write | Rights::transfer | Rights::wait | Rights::duplicate;

std::span<const u8> bytes_of(const std::string& s) { return {reinterpret_cast<const u8*>(s.data()), s.size()}; }

TEST(Channel, BytesAndSignals) {
  Kernel k;
  Domain d(k);
  auto [a, b] = ChannelEndpoint::create().value();
  EXPECT_EQ(a->signals() & (kSignalReadable | kSignalWritable), kSignalWritable);
  ASSERT_TRUE(a->write(d.table, *d.account, bytes_of("hello"), {}).has_value());
  EXPECT_TRUE(b->signals() & kSignalReadable);
  u8 buf[16];
  auto got = b->read(d.table, buf, {});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 5), "hello");
  EXPECT_FALSE(b->signals() & kSignalReadable);
  EXPECT_EQ(b->read(d.table, buf, {}).error(), Error::would_block);
}

TEST(Channel, MessagesArePaidByTheWriter) {
  Kernel k;
  Domain writer(k, 1 * MiB), reader(k);
  auto [a, b] = ChannelEndpoint::create().value();
  const u64 used0 = writer.account->used_bytes();
  const u64 reader0 = reader.account->used_bytes();  // its handle table
  const std::vector<u8> big(60 * 1024, 7);
  ASSERT_TRUE(a->write(writer.table, *writer.account, big, {}).has_value());
  EXPECT_GT(writer.account->used_bytes(), used0);
  EXPECT_EQ(reader.account->used_bytes(), reader0);
  // Fill the writer's own memory: it runs out, the channel and everyone else are fine.
  Error last = Error::none;
  for (int i = 0; i < 40 && last == Error::none; ++i)
    last = a->write(writer.table, *writer.account, big, {}).error_or_none();
  EXPECT_EQ(last, Error::no_memory);
  std::vector<u8> out(64 * 1024);
  while (b->read(reader.table, out, {}).has_value()) {
  }
  EXPECT_EQ(writer.account->used_bytes(), used0);  // reading freed them
}

TEST(Channel, HandlesMoveWithTheMessage) {
  Kernel k;
  Domain w(k), r(k);
  auto [a, b] = ChannelEndpoint::create().value();
  auto ev = Event::create().value();
  const u64 koid = ev->koid();
  Handle hs[2];
  hs[0] = w.table.add(Ref<KernelObject>(std::move(ev)), Rights::wait | Rights::transfer).value();
  hs[1] = w.table.add(Event::create().value(), Rights::signal | Rights::transfer | Rights::duplicate).value();
  ASSERT_TRUE(a->write(w.table, *w.account, bytes_of("two"), hs).has_value());
  EXPECT_EQ(w.table.count(), 0u);  // moved out
  EXPECT_EQ(w.table.info(hs[0]).error(), Error::bad_handle);
  u8 buf[8];
  Handle got[4] = {};
  auto sizes = b->read(r.table, buf, got).value();
  EXPECT_EQ(sizes.handles, 2u);
  EXPECT_EQ(r.table.info(got[0]).value().koid, koid);
  EXPECT_EQ(r.table.info(got[0]).value().rights, Rights::wait | Rights::transfer);  // rights travel unchanged
  EXPECT_EQ(r.table.info(got[1]).value().rights, Rights::signal | Rights::transfer | Rights::duplicate);
}

// Every failing write leaves the writer's handles exactly where they were.
TEST(Channel, FailedWritesAreAllOrNothing) {
  Kernel k;
  Domain w(k, 8 * MiB);
  auto [a, b] = ChannelEndpoint::create().value();
  const Handle good = w.table.add(Event::create().value(), Rights::transfer).value();
  const Handle no_transfer = w.table.add(Event::create().value(), Rights::wait).value();
  const Handle bad = good + 0x10000;  // the next generation of good's slot: stale
  const Handle self = w.table.add(Ref<KernelObject>::retain(a.get()), kChannelRights).value();
  const Handle peer = w.table.add(Ref<KernelObject>::retain(b.get()), kChannelRights).value();
  struct Case {
    std::vector<Handle> handles;
    usize bytes;
    Error expected;
  };
  const Case cases[] = {
      {{good, no_transfer}, 4, Error::access_denied},  // one handle lacks TRANSFER: the other stays too
      {{good, bad}, 4, Error::bad_handle},
      {{good, good}, 4, Error::invalid_argument},  // the same handle twice
      {{good, self}, 4, Error::invalid_argument},  // the channel itself
      {{peer}, 4, Error::invalid_argument},        // its peer
      {{good}, kMaxMessageBytes + 1, Error::invalid_argument},
      {std::vector<Handle>(kMaxMessageHandles + 1, good), 4, Error::invalid_argument},
  };
  for (const Case& c : cases) {
    const std::vector<u8> payload(c.bytes, 1);
    EXPECT_EQ(a->write(w.table, *w.account, payload, c.handles).error(), c.expected);
    EXPECT_EQ(w.table.count(), 4u);
    EXPECT_TRUE(w.table.info(good).has_value());
  }
  EXPECT_EQ(b->queued_messages(), 0u);
  // The queue limit.
  for (usize i = 0; i < kMaxQueuedMessages; ++i) ASSERT_TRUE(a->write(w.table, *w.account, {}, {}).has_value());
  EXPECT_FALSE(a->signals() & kSignalWritable);
  EXPECT_EQ(a->write(w.table, *w.account, {}, std::span(&good, 1)).error(), Error::limit_reached);
  EXPECT_TRUE(w.table.info(good).has_value());
  // Peer closed.
  ASSERT_TRUE(w.table.close(peer).has_value());
  b.reset();  // the last reference: the end closes, and its queued messages go
  EXPECT_TRUE(a->signals() & kSignalPeerClosed);
  EXPECT_EQ(a->write(w.table, *w.account, {}, std::span(&good, 1)).error(), Error::peer_closed);
  EXPECT_TRUE(w.table.info(good).has_value());
}

TEST(Channel, ShortBuffersAndFullTablesLeaveTheMessageQueued) {
  Kernel k;
  Domain w(k), r(k, 4 * MiB, 2);
  auto [a, b] = ChannelEndpoint::create().value();
  Handle hs[3];
  for (Handle& h : hs) h = w.table.add(Event::create().value(), Rights::transfer).value();
  ASSERT_TRUE(a->write(w.table, *w.account, bytes_of("twelve bytes"), hs).has_value());
  u8 small[4];
  Handle out[3];
  ChannelEndpoint::ReadSizes needed;
  EXPECT_EQ(b->read(r.table, small, out, &needed).error(), Error::buffer_too_small);
  EXPECT_EQ(needed.bytes, 12u);
  EXPECT_EQ(needed.handles, 3u);
  u8 buf[16];
  EXPECT_EQ(b->read(r.table, buf, std::span(out, 2), &needed).error(), Error::buffer_too_small);
  EXPECT_EQ(b->read(r.table, buf, out).error(), Error::no_resources);  // r's table holds only 2
  EXPECT_EQ(b->queued_messages(), 1u);
  EXPECT_EQ(r.table.count(), 0u);
  Domain big(k);
  EXPECT_TRUE(b->read(big.table, buf, out).has_value());
  EXPECT_EQ(big.table.count(), 3u);
}

TEST(Channel, ClosingFreesQueuedMessagesAndTheirHandles) {
  Kernel k;
  const u64 free0 = k.settled_free_pages();
  const u64 objects0 = KernelObject::live_objects();
  {
    Domain w(k);
    auto [a, b] = ChannelEndpoint::create().value();
    for (int i = 0; i < 10; ++i) {
      const Handle h = w.table.add(Event::create().value(), Rights::transfer).value();
      ASSERT_TRUE(a->write(w.table, *w.account, bytes_of("x"), std::span(&h, 1)).has_value());
    }
    EXPECT_EQ(ChannelEndpoint::live_messages(), 10u);
    b.reset();  // closes the end with 10 messages and 10 events queued
    EXPECT_EQ(ChannelEndpoint::live_messages(), 0u);
    EXPECT_EQ(KernelObject::live_objects(), objects0 + 1);  // only `a` is left
  }
  EXPECT_EQ(KernelObject::live_objects(), objects0);
  EXPECT_EQ(k.settled_free_pages(), free0);
}

// Two reading ends, each queued only in the other's queue: nobody can ever read either (the writing ends do not
// help: they write into those queues, they cannot read them). The collector frees both.
TEST(Channel, CycleCollector) {
  Kernel k;
  const u64 objects0 = KernelObject::live_objects();
  const u64 free0 = k.settled_free_pages();
  {
    Domain d(k);
    auto c1 = ChannelEndpoint::create().value();
    auto c2 = ChannelEndpoint::create().value();
    const Handle x1 = d.table.add(Ref<KernelObject>(std::move(c1.a)), kChannelRights).value();
    const Handle y1 = d.table.add(Ref<KernelObject>(std::move(c1.b)), kChannelRights).value();
    const Handle x2 = d.table.add(Ref<KernelObject>(std::move(c2.a)), kChannelRights).value();
    const Handle y2 = d.table.add(Ref<KernelObject>(std::move(c2.b)), kChannelRights).value();
    auto ep = [&](Handle h) { return d.table.get_as<ChannelEndpoint>(h, Rights::write).value(); };
    // Send c2's reading end through c1 (into y1's queue), and c1's reading end through c2 (into y2's queue).
    ASSERT_TRUE(ep(x1)->write(d.table, *d.account, {}, std::span(&y2, 1)).has_value());
    ASSERT_TRUE(ep(x2)->write(d.table, *d.account, {}, std::span(&y1, 1)).has_value());
    // A reachable chain is left alone: a third channel whose reading end is held, carrying y-like ends, stays.
    EXPECT_EQ(ChannelEndpoint::live_endpoints(), 4u);
    EXPECT_EQ(ChannelEndpoint::collect_cycles(), 2u);
    EXPECT_EQ(ChannelEndpoint::live_endpoints(), 2u);
    EXPECT_EQ(ChannelEndpoint::live_messages(), 0u);
    EXPECT_TRUE(ep(x1)->signals() & kSignalPeerClosed);
    EXPECT_EQ(ChannelEndpoint::collect_cycles(), 0u);  // nothing more: x1 and x2 are held
    ASSERT_TRUE(d.table.close(x1).has_value());
    ASSERT_TRUE(d.table.close(x2).has_value());
    EXPECT_EQ(ChannelEndpoint::live_endpoints(), 0u);
  }
  EXPECT_EQ(KernelObject::live_objects(), objects0);
  EXPECT_EQ(k.settled_free_pages(), free0);
}

}  // namespace
}  // namespace platypos::cap
