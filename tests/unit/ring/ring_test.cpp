// The kernel side of the rings, driven entry by entry: validation of every field, each operation's success and error
// paths, chains, a full completion queue, parked operations, and a ring torn down with operations in flight.

#include <platypos/abi/status.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/cap/log_namespace.hpp>
#include <platypos/cap/memory_object.hpp>
#include <platypos/cap/opaque_ref.hpp>
#include <platypos/cap/process_object.hpp>

#include <platypos/hosted/console.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "ring_harness.hpp"

namespace platypos::ring {
namespace {

using abi::Op;
using abi::Sqe;
using testing::RingHarness;
using testing::sqe;
using testing::status;

// Two handles to the ends of a new channel, created through the ring.
std::pair<u32, u32> make_channel(RingHarness& h) {
  const i64 r = h.run_one(sqe(Op::channel_create));
  EXPECT_GE(r, 0);
  return {static_cast<u32>(static_cast<u64>(r) >> 32), static_cast<u32>(r)};
}

Sqe write_sqe(RingHarness& h, u32 ch, usize off, u32 len) {
  Sqe s = sqe(Op::channel_write, ch);
  s.addr = h.addr(off);
  s.len = len;
  return s;
}
Sqe read_sqe(RingHarness& h, u32 ch, usize off, u32 len) {
  Sqe s = sqe(Op::channel_read, ch);
  s.addr = h.addr(off);
  s.len = len;
  return s;
}

TEST(RingAbi, StatusCodesAreTheKernelErrors) {
  // The ABI fixes the numbers; the kernel's Error enum must agree, name for name.
  for (i32 v = 1; v <= static_cast<i32>(abi::Status::limit_reached); ++v) {
    EXPECT_STREQ(abi::status_name(static_cast<abi::Status>(v)), error_name(static_cast<Error>(v))) << v;
  }
  EXPECT_EQ(abi::error_result(abi::Status::bad_handle), status(Error::bad_handle));
}

TEST(RingAbi, LayoutIsWhatProgramsSee) {
  RingHarness h({.sq_entries = 8, .cq_entries = 16});
  abi::RingHeader& hdr = h.header();
  EXPECT_EQ(hdr.magic, abi::kRingMagic);
  EXPECT_EQ(hdr.version, abi::kRingVersion);
  EXPECT_EQ(hdr.sq_entries, 8u);
  EXPECT_EQ(hdr.cq_entries, 16u);
  EXPECT_EQ(hdr.sq_offset, sizeof(abi::RingHeader));
  EXPECT_EQ(hdr.cq_offset, sizeof(abi::RingHeader) + 8 * sizeof(Sqe));
  EXPECT_EQ(hdr.region_bytes, abi::ring_region_bytes(8, 16));
  EXPECT_EQ(reinterpret_cast<uptr>(&hdr) % kPageSize, 0u);
}

TEST(RingCreate, RejectsBadSizes) {
  RingHarness h;
  EXPECT_EQ(Ring::create(h.process(), h.mem(), 4096, {.sq_entries = 3, .cq_entries = 8}).error(),
            Error::invalid_argument);
  EXPECT_EQ(Ring::create(h.process(), h.mem(), 4096, {.sq_entries = 8, .cq_entries = 4}).error(),
            Error::invalid_argument);
  EXPECT_EQ(Ring::create(h.process(), h.mem(), 4096, {.sq_entries = 8192, .cq_entries = 8192}).error(),
            Error::invalid_argument);
}

// --- Validation: each malformed entry gets its own error, and nothing happens ---------------------------------------

TEST(RingValidation, MalformedEntries) {
  RingHarness h;
  const u64 objects = cap::KernelObject::live_objects();
  Sqe bad_op = sqe(Op::nop);
  bad_op.opcode = abi::kOpCount;
  EXPECT_EQ(h.run_one(bad_op), status(Error::not_supported));
  bad_op.opcode = 0xff;
  EXPECT_EQ(h.run_one(bad_op), status(Error::not_supported));

  Sqe flags = sqe(Op::nop);
  flags.flags = 0x80;
  EXPECT_EQ(h.run_one(flags), status(Error::invalid_argument));
  Sqe r0 = sqe(Op::nop);
  r0.reserved0 = 1;
  EXPECT_EQ(h.run_one(r0), status(Error::invalid_argument));
  Sqe r1 = sqe(Op::nop);
  r1.reserved1 = 1;
  EXPECT_EQ(h.run_one(r1), status(Error::invalid_argument));
  // A field the operation does not use must be zero.
  Sqe extra = sqe(Op::channel_create);
  extra.arg0 = 5;
  EXPECT_EQ(h.run_one(extra), status(Error::invalid_argument));
  Sqe extra2 = sqe(Op::handle_close, 1);
  extra2.addr = h.addr();
  EXPECT_EQ(h.run_one(extra2), status(Error::invalid_argument));
  EXPECT_EQ(h.ring().stats().rejected, 7u);
  EXPECT_EQ(cap::KernelObject::live_objects(), objects);
}

TEST(RingValidation, BuffersMustBeInsideTheProgramsMemory) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  (void)b;
  // Below, straddling the end, past the end, and wrapping around the address space.
  EXPECT_EQ(h.run_one(write_sqe(h, a, 0, 8) /* fine */), 0);
  Sqe below = write_sqe(h, a, 0, 8);
  below.addr = h.addr() - 8;
  EXPECT_EQ(h.run_one(below), status(Error::out_of_range));
  EXPECT_EQ(h.run_one(write_sqe(h, a, RingHarness::kMemBytes - 4, 8)), status(Error::out_of_range));
  EXPECT_EQ(h.run_one(write_sqe(h, a, RingHarness::kMemBytes, 1)), status(Error::out_of_range));
  Sqe wrap = write_sqe(h, a, 0, 16);
  wrap.addr = ~u64{0} - 4;
  EXPECT_EQ(h.run_one(wrap), status(Error::out_of_range));
  Sqe kernel = write_sqe(h, a, 0, 16);
  kernel.addr = reinterpret_cast<uptr>(&h.header());  // the ring region itself is not the program's buffer space
  EXPECT_EQ(h.run_one(kernel), status(Error::out_of_range));
  // The handle array too, and it must be aligned.
  Sqe hs = write_sqe(h, a, 0, 4);
  hs.addr2 = h.addr(RingHarness::kMemBytes - 2);
  hs.count = 1;
  EXPECT_EQ(h.run_one(hs), status(Error::out_of_range));
  hs.addr2 = h.addr(64 + 1);
  EXPECT_EQ(h.run_one(hs), status(Error::misaligned));
  Sqe many = write_sqe(h, a, 0, 4);
  many.addr2 = h.addr(64);
  many.count = cap::kMaxMessageHandles + 1;
  EXPECT_EQ(h.run_one(many), status(Error::invalid_argument));
  // Only the one good message was sent.
  EXPECT_EQ(h.run_one(read_sqe(h, b, 256, 64)), 8);
  Sqe nb = read_sqe(h, b, 256, 64);
  nb.flags = abi::kSqeNonBlocking;
  EXPECT_EQ(h.run_one(nb), status(Error::would_block));
}

TEST(RingValidation, HandlesRightsAndTypes) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  EXPECT_EQ(h.run_one(write_sqe(h, 0, 0, 4)), status(Error::bad_handle));
  EXPECT_EQ(h.run_one(write_sqe(h, 12345, 0, 4)), status(Error::bad_handle));
  // Stale: closed, so its number no longer names anything.
  EXPECT_EQ(h.run_one(sqe(Op::handle_close, a)), 0);
  EXPECT_EQ(h.run_one(write_sqe(h, a, 0, 4)), status(Error::bad_handle));
  EXPECT_EQ(h.run_one(sqe(Op::handle_close, a)), status(Error::bad_handle));
  // Missing right: a read-only duplicate cannot write.
  Sqe dup = sqe(Op::handle_duplicate, b);
  dup.arg0 = static_cast<u64>(cap::Rights::read);
  const i64 ro = h.run_one(dup);
  ASSERT_GT(ro, 0);
  EXPECT_EQ(h.run_one(write_sqe(h, static_cast<u32>(ro), 0, 4)), status(Error::access_denied));
  // Duplicating with more rights than held is refused; so is an unknown right bit.
  Sqe more = sqe(Op::handle_duplicate, static_cast<u32>(ro));
  more.arg0 = static_cast<u64>(cap::Rights::read | cap::Rights::write);
  EXPECT_EQ(h.run_one(more), status(Error::access_denied));
  more.arg0 = 1u << 12;
  EXPECT_EQ(h.run_one(more), status(Error::invalid_argument));
  // Wrong type: a memory object is not a channel.
  Sqe mc = sqe(Op::memory_create);
  mc.arg0 = 4096;
  const i64 mem = h.run_one(mc);
  ASSERT_GT(mem, 0);
  EXPECT_EQ(h.run_one(write_sqe(h, static_cast<u32>(mem), 0, 4)), status(Error::wrong_type));
  // Closed peer: b's peer a is gone.
  EXPECT_EQ(h.run_one(write_sqe(h, b, 0, 4)), status(Error::peer_closed));
  EXPECT_EQ(h.run_one(read_sqe(h, b, 0, 4)), status(Error::peer_closed));
}

// --- Each operation
// ---------------------------------------------------------------------------------------------------

TEST(RingOps, NopAndUserDataRoundTrip) {
  RingHarness h;
  Sqe s = sqe(Op::nop);
  s.user_data = 0xfeedfacecafebeef;
  h.push(s);
  h.publish();
  EXPECT_EQ(h.consume(), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].user_data, 0xfeedfacecafebeefu);
  EXPECT_EQ(c[0].result, 0);
}

TEST(RingOps, ChannelMessagesWithHandles) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  auto [c, d] = make_channel(h);
  const u64 messages = cap::ChannelEndpoint::live_messages();
  std::memcpy(h.mem(), "hello", 5);
  auto* hs = reinterpret_cast<u32*>(h.mem() + 64);
  hs[0] = d;
  Sqe w = write_sqe(h, a, 0, 5);
  w.addr2 = h.addr(64);
  w.count = 1;
  EXPECT_EQ(h.run_one(w), 0);
  EXPECT_EQ(cap::ChannelEndpoint::live_messages(), messages + 1);
  // d left our table with the message.
  EXPECT_EQ(h.run_one(sqe(Op::handle_close, d)), status(Error::bad_handle));
  // A read too small for the bytes: buffer_too_small, the sizes reported, the message stays.
  Sqe small = read_sqe(h, b, 128, 2);
  small.addr2 = h.addr(192);
  small.count = 1;
  small.arg1 = h.addr(256);
  EXPECT_EQ(h.run_one(small), status(Error::buffer_too_small));
  auto* needed = reinterpret_cast<abi::ReadNeeded*>(h.mem() + 256);
  EXPECT_EQ(needed->bytes, 5u);
  EXPECT_EQ(needed->handles, 1u);
  Sqe r = read_sqe(h, b, 128, 64);
  r.addr2 = h.addr(192);
  r.count = 1;
  const i64 got = h.run_one(r);
  EXPECT_EQ(got & 0xffffffff, 5);
  EXPECT_EQ(got >> 32, 1);
  EXPECT_EQ(std::memcmp(h.mem() + 128, "hello", 5), 0);
  const u32 d2 = reinterpret_cast<u32*>(h.mem() + 192)[0];
  // The received handle works: c <-> d2.
  EXPECT_EQ(h.run_one(write_sqe(h, c, 0, 3)), 0);
  EXPECT_EQ(h.run_one(read_sqe(h, d2, 300, 16)), 3);
  EXPECT_EQ(cap::ChannelEndpoint::live_messages(), messages);
}

TEST(RingOps, WriteWithABadHandleIsAllOrNothing) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  auto [c, d] = make_channel(h);
  (void)c;
  auto* hs = reinterpret_cast<u32*>(h.mem() + 64);
  hs[0] = d;
  hs[1] = 4242;  // not a handle
  Sqe w = write_sqe(h, a, 0, 5);
  w.addr2 = h.addr(64);
  w.count = 2;
  EXPECT_EQ(h.run_one(w), status(Error::bad_handle));
  // d is still ours, nothing was queued.
  Sqe nb = read_sqe(h, b, 128, 64);
  nb.flags = abi::kSqeNonBlocking;
  EXPECT_EQ(h.run_one(nb), status(Error::would_block));
  EXPECT_EQ(h.run_one(sqe(Op::handle_close, d)), 0);
}

TEST(RingOps, ReadParksUntilAMessageArrives) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  Sqe r = read_sqe(h, b, 128, 64);
  r.user_data = 77;
  h.push(r);
  h.publish();
  EXPECT_EQ(h.consume(), 1u);
  EXPECT_TRUE(h.reap().empty());
  EXPECT_EQ(h.ring().stats().parked, 1u);
  EXPECT_FALSE(h.ring().has_ready());
  std::memcpy(h.mem(), "wake", 4);
  EXPECT_EQ(h.run_one(write_sqe(h, a, 0, 4)), 0);
  EXPECT_TRUE(h.ring().has_ready());
  EXPECT_EQ(h.process_ready(), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].user_data, 77u);
  EXPECT_EQ(c[0].result, 4);
  EXPECT_EQ(std::memcmp(h.mem() + 128, "wake", 4), 0);
}

TEST(RingOps, ParkedReadSeesPeerClose) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  h.push(read_sqe(h, b, 128, 64));
  h.publish();
  h.consume();
  EXPECT_EQ(h.run_one(sqe(Op::handle_close, a)), 0);
  EXPECT_EQ(h.process_ready(), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].result, status(Error::peer_closed));
}

TEST(RingOps, WaitOnSignalsAndItsTimeout) {
  RingHarness h;
  auto ev = cap::Event::create().value();
  const u32 e = h.add(cap::Ref<cap::KernelObject>::retain(ev.get()), cap::Rights::wait);
  const u32 no_wait = h.add(cap::Ref<cap::KernelObject>::retain(ev.get()), cap::Rights::read);
  Sqe w = sqe(Op::wait, e);
  w.arg0 = 1u << 24;
  EXPECT_EQ(h.run_one([&] {
    Sqe s = w;
    s.flags = abi::kSqeNonBlocking;
    return s;
  }()),
            status(Error::would_block));
  Sqe bad = w;
  bad.arg0 = 0;
  EXPECT_EQ(h.run_one(bad), status(Error::invalid_argument));
  Sqe denied = w;
  denied.handle = no_wait;
  EXPECT_EQ(h.run_one(denied), status(Error::access_denied));
  // Parks; the signal completes it with the signals seen.
  w.user_data = 1;
  h.push(w);
  // And one with a timeout.
  Sqe t = w;
  t.arg0 = 1u << 25;
  t.arg1 = 5'000;
  t.user_data = 2;
  h.push(t);
  h.publish();
  EXPECT_EQ(h.consume(), 2u);
  EXPECT_TRUE(h.reap().empty());
  EXPECT_EQ(h.ring().next_deadline(), 5'000u);
  ASSERT_TRUE(ev->signal(0, 1u << 24).has_value());
  EXPECT_EQ(h.process_ready(0), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].user_data, 1u);
  EXPECT_EQ(static_cast<u64>(c[0].result) & (1u << 24), 1u << 24);
  EXPECT_EQ(h.process_ready(4'999), 0u);
  EXPECT_EQ(h.process_ready(5'000), 1u);
  c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].user_data, 2u);
  EXPECT_EQ(c[0].result, status(Error::timed_out));
  // Already signalled: completes at once.
  EXPECT_EQ(static_cast<u64>(h.run_one(w)) & (1u << 24), 1u << 24);
}

TEST(RingOps, Timeout) {
  RingHarness h;
  Sqe zero = sqe(Op::timeout);
  EXPECT_EQ(h.run_one(zero), 0);
  Sqe huge = sqe(Op::timeout);
  huge.arg0 = ~u64{0};
  EXPECT_EQ(h.run_one(huge), status(Error::invalid_argument));
  Sqe t = sqe(Op::timeout);
  t.arg0 = 1000;
  t.user_data = 9;
  h.push(t);
  h.publish();
  h.consume();
  EXPECT_EQ(h.process_ready(999), 0u);
  EXPECT_EQ(h.process_ready(1000), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].result, 0);
}

TEST(RingOps, LogNamespaces) {
  RingHarness h;
  std::memcpy(h.mem(), "app-a", 5);
  Sqe lc = sqe(Op::log_create);
  lc.addr = h.addr();
  lc.len = 5;
  const i64 log = h.run_one(lc);
  ASSERT_GT(log, 0);
  lc.len = 0;
  EXPECT_EQ(h.run_one(lc), status(Error::invalid_argument));
  // A write-only duplicate, as a log daemon hands to an app.
  Sqe dup = sqe(Op::handle_duplicate, static_cast<u32>(log));
  dup.arg0 = static_cast<u64>(cap::Rights::write);
  const i64 wo = h.run_one(dup);
  ASSERT_GT(wo, 0);
  std::memcpy(h.mem() + 64, "first record", 12);
  Sqe lw = sqe(Op::log_write, static_cast<u32>(wo));
  lw.addr = h.addr(64);
  lw.len = 12;
  EXPECT_EQ(h.run_one(lw), 0);
  Sqe lr = sqe(Op::log_read, static_cast<u32>(wo));
  lr.addr = h.addr(128);
  lr.len = 64;
  EXPECT_EQ(h.run_one(lr), status(Error::access_denied));  // the app cannot read its own logs
  lr.handle = static_cast<u32>(log);
  EXPECT_EQ(h.run_one(lr), 12);
  EXPECT_EQ(std::memcmp(h.mem() + 128, "first record", 12), 0);
  // Empty: parks until the next record.
  lr.user_data = 5;
  h.push(lr);
  h.publish();
  h.consume();
  EXPECT_TRUE(h.reap().empty());
  EXPECT_EQ(h.run_one(lw), 0);
  EXPECT_EQ(h.process_ready(), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].result, 12);
}

TEST(RingOps, MemoryObjects) {
  RingHarness h;
  Sqe mc = sqe(Op::memory_create);
  mc.arg0 = 3 * kPageSize;
  const i64 m = h.run_one(mc);
  ASSERT_GT(m, 0);
  std::memcpy(h.mem(), "0123456789", 10);
  Sqe mw = sqe(Op::memory_write, static_cast<u32>(m));
  mw.addr = h.addr();
  mw.len = 10;
  mw.arg0 = kPageSize - 5;  // across a page boundary
  EXPECT_EQ(h.run_one(mw), 10);
  Sqe mr = sqe(Op::memory_read, static_cast<u32>(m));
  mr.addr = h.addr(100);
  mr.len = 10;
  mr.arg0 = kPageSize - 5;
  EXPECT_EQ(h.run_one(mr), 10);
  EXPECT_EQ(std::memcmp(h.mem() + 100, "0123456789", 10), 0);
  mr.arg0 = 3 * kPageSize - 4;
  EXPECT_EQ(h.run_one(mr), status(Error::out_of_range));
  mc.arg0 = 0;
  EXPECT_EQ(h.run_one(mc), status(Error::invalid_argument));
  // More than the process has: its own memory account says no, the kernel is unaffected.
  mc.arg0 = 64 * MiB;
  EXPECT_EQ(h.run_one(mc), status(Error::no_memory));
}

TEST(RingOps, OpaqueReferences) {
  RingHarness h;
  auto key_ev = cap::Event::create().value();
  const u32 key = h.add(cap::Ref<cap::KernelObject>::retain(key_ev.get()), cap::Rights::manage);
  const u32 not_manage = h.add(cap::Ref<cap::KernelObject>::retain(key_ev.get()), cap::Rights::wait);
  auto other_ev = cap::Event::create().value();
  const u32 other = h.add(cap::Ref<cap::KernelObject>::retain(other_ev.get()), cap::Rights::manage);
  Sqe rc = sqe(Op::ref_create, key);
  rc.arg0 = 0x1234;
  const i64 ref = h.run_one(rc);
  ASSERT_GT(ref, 0);
  rc.handle = not_manage;
  EXPECT_EQ(h.run_one(rc), status(Error::access_denied));
  Sqe rr = sqe(Op::ref_resolve, static_cast<u32>(ref));
  rr.arg0 = key;
  EXPECT_EQ(h.run_one(rr), 0x1234);
  rr.arg0 = other;  // not the issuer
  EXPECT_EQ(h.run_one(rr), status(Error::access_denied));
  rr.arg0 = 1ull << 40;
  EXPECT_EQ(h.run_one(rr), status(Error::invalid_argument));
  rr.arg0 = key;
  rr.handle = key;  // not a reference
  EXPECT_EQ(h.run_one(rr), status(Error::wrong_type));
}

TEST(RingOps, ProcessExitOfAnotherProcess) {
  RingHarness h;
  proc::Process* other = h.kernel().processes().spawn({.name = "victim", .cores = 1, .memory_bytes = 1 * MiB}).value();
  auto obj = cap::Ref<cap::ProcessObject>::retain(&other->object());
  const u32 managed = h.add(cap::Ref<cap::KernelObject>::retain(obj.get()), cap::Rights::manage | cap::Rights::wait);
  const u32 watch_only = h.add(cap::Ref<cap::KernelObject>::retain(obj.get()), cap::Rights::wait);
  Sqe x = sqe(Op::process_exit, watch_only);
  x.arg0 = 3;
  EXPECT_EQ(h.run_one(x), status(Error::access_denied));
  x.handle = managed;
  EXPECT_EQ(h.run_one(x), 0);
  EXPECT_TRUE(obj->exited());
  EXPECT_EQ(obj->exit_code(), 3);
  EXPECT_EQ(h.run_one(x), status(Error::bad_state));  // already gone
  Sqe w = sqe(Op::wait, managed);
  w.arg0 = abi::signals::exited;
  EXPECT_EQ(static_cast<u64>(h.run_one(w)) & abi::signals::exited, abi::signals::exited);
}

TEST(RingOps, SpawnWithoutARuntimeIsNotSupported) {
  RingHarness h;
  std::memcpy(h.mem(), "echo", 4);
  Sqe s = sqe(Op::process_spawn);
  s.addr = h.addr();
  s.len = 4;
  s.arg0 = 1;
  s.arg1 = MiB;
  EXPECT_EQ(h.run_one(s), status(Error::not_supported));
}

TEST(RingOps, ConsoleWrite) {
  RingHarness h;
  std::memcpy(h.mem(), "from a program\n", 15);
  Sqe s = sqe(Op::console_write);
  s.addr = h.addr();
  s.len = 15;
  EXPECT_EQ(h.run_one(s), 0);
  s.len = 4096;
  EXPECT_EQ(h.run_one(s), status(Error::invalid_argument));
}

// The operator's terminal is not the program's: control characters (an escape sequence would rewrite the screen)
// arrive as '?', tabs and UTF-8 text as they are; a line that never ends is emitted in pieces, not buffered forever.
TEST(RingOps, ConsoleWriteKeepsControlCharactersOffTheTerminal) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  sink->set_pattern("%v");
  hosted::console_logger().sinks().push_back(sink);
  RingHarness h;
  const char text[] = "a\x1b[2Jb\tc\x07\x7f\xc2\x9b\xc2\xb5s\r\n";
  std::memcpy(h.mem(), text, sizeof text - 1);
  Sqe s = sqe(Op::console_write);
  s.addr = h.addr();
  s.len = sizeof text - 1;
  EXPECT_EQ(h.run_one(s), 0);
  std::memset(h.mem(), 'x', 1000);
  s.len = 1000;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.run_one(s), 0);  // 3000 bytes, no line end
  hosted::console_logger().flush();
  std::erase(hosted::console_logger().sinks(), sink);
  const std::string out = captured.str();
  EXPECT_NE(out.find("a?[2Jb\tc????\xc2\xb5s?"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_NE(out.find(std::string(1024, 'x')), std::string::npos);  // emitted at the limit, before any line end
}

TEST(RingOps, HandleTableFull) {
  RingHarness h({}, 1 * MiB);
  // Fill the table (capacity 256 by default), then creation fails with no_resources and nothing leaks.
  const u64 objects = cap::KernelObject::live_objects();
  u32 made = 0;
  for (;;) {
    const i64 r = h.run_one(sqe(Op::channel_create));
    if (r < 0) {
      EXPECT_EQ(r, status(Error::no_resources));
      break;
    }
    ++made;
    ASSERT_LT(made, 1000u);
  }
  EXPECT_GE(made, 100u);
  Sqe mc = sqe(Op::memory_create);
  mc.arg0 = 4096;
  // At most one slot left (an odd capacity); fill it, then memory_create fails too.
  while (h.run_one(mc) > 0) {
  }
  EXPECT_EQ(h.run_one(mc), status(Error::no_resources));
  h.table().close_all();
  EXPECT_EQ(cap::KernelObject::live_objects(), objects);
}

// --- Chains
// ------------------------------------------------------------------------------------------------------------

TEST(RingChains, RunInOrderAndCancelAfterAFailure) {
  RingHarness h;
  Sqe a = sqe(Op::nop);
  a.flags = abi::kSqeLink;
  a.user_data = 1;
  Sqe b = sqe(Op::handle_close, 999);  // fails
  b.flags = abi::kSqeLink;
  b.user_data = 2;
  Sqe c = sqe(Op::nop);
  c.flags = abi::kSqeLink;
  c.user_data = 3;
  Sqe d = sqe(Op::nop);  // end of the chain
  d.user_data = 4;
  Sqe e = sqe(Op::nop);  // not part of it
  e.user_data = 5;
  for (const Sqe& s : {a, b, c, d, e}) h.push(s);
  h.publish();
  EXPECT_EQ(h.consume(), 5u);
  auto cq = h.reap();
  ASSERT_EQ(cq.size(), 5u);
  EXPECT_EQ(cq[0].user_data, 1u);
  EXPECT_EQ(cq[0].result, 0);
  EXPECT_EQ(cq[1].result, status(Error::bad_handle));
  EXPECT_EQ(cq[2].result, status(Error::cancelled));
  EXPECT_EQ(cq[3].result, status(Error::cancelled));
  EXPECT_EQ(cq[4].user_data, 5u);
  EXPECT_EQ(cq[4].result, 0);
}

TEST(RingChains, AChainWaitsUntilItsEndIsPublished) {
  RingHarness h;
  Sqe a = sqe(Op::nop);
  a.flags = abi::kSqeLink;
  h.push(a);
  h.publish();
  EXPECT_EQ(h.consume(), 0u);  // its end is not there yet
  h.push(sqe(Op::nop));
  h.publish();
  EXPECT_EQ(h.consume(), 2u);
  EXPECT_EQ(h.reap().size(), 2u);
}

TEST(RingChains, ParkedLinkResumesTheRest) {
  RingHarness h;
  auto [a, b] = make_channel(h);
  // read (parks) -> write the bytes read to b's peer -> nop
  Sqe r = read_sqe(h, b, 128, 4);
  r.flags = abi::kSqeLink;
  r.user_data = 1;
  Sqe w = write_sqe(h, b, 128, 4);
  w.flags = abi::kSqeLink;
  w.user_data = 2;
  Sqe n = sqe(Op::nop);
  n.user_data = 3;
  for (const Sqe& s : {r, w, n}) h.push(s);
  h.publish();
  EXPECT_EQ(h.consume(), 3u);
  EXPECT_TRUE(h.reap().empty());
  std::memcpy(h.mem(), "ping", 4);
  EXPECT_EQ(h.run_one(write_sqe(h, a, 0, 4)), 0);
  EXPECT_EQ(h.process_ready(), 1u);
  auto cq = h.reap();
  ASSERT_EQ(cq.size(), 3u);
  EXPECT_EQ(cq[0].result, 4);
  EXPECT_EQ(cq[1].result, 0);
  EXPECT_EQ(cq[2].result, 0);
  // The echo arrived at a.
  EXPECT_EQ(h.run_one(read_sqe(h, a, 256, 16)), 4);
  EXPECT_EQ(std::memcmp(h.mem() + 256, "ping", 4), 0);
}

TEST(RingChains, TimedOutWaitCancelsTheRest) {
  RingHarness h;
  auto ev = cap::Event::create().value();
  const u32 e = h.add(cap::Ref<cap::KernelObject>::retain(ev.get()), cap::Rights::wait);
  Sqe w = sqe(Op::wait, e);
  w.arg0 = 1;
  w.arg1 = 100;
  w.flags = abi::kSqeLink;
  Sqe n = sqe(Op::nop);
  h.push(w);
  h.push(n);
  h.publish();
  h.consume();
  EXPECT_EQ(h.process_ready(100), 1u);
  auto cq = h.reap();
  ASSERT_EQ(cq.size(), 2u);
  EXPECT_EQ(cq[0].result, status(Error::timed_out));
  EXPECT_EQ(cq[1].result, status(Error::cancelled));
}

// The rule (abi/ring.hpp): a chain longer than kMaxChain fails as a whole, up to and including its last entry (the
// first without LINK); none of it runs, and the entry after it starts afresh.
TEST(RingChains, TooLongAChainFailsAsAWhole) {
  RingHarness h;
  for (u32 i = 0; i < abi::kMaxChain + 3; ++i) {
    Sqe s = sqe(Op::nop);
    s.flags = abi::kSqeLink;
    s.user_data = i + 1;
    h.push(s);
  }
  Sqe last = sqe(Op::nop);  // the chain's last entry (no LINK): fails with it
  last.user_data = 100;
  h.push(last);
  Sqe after = sqe(Op::nop);  // a chain of its own
  after.user_data = 200;
  h.push(after);
  h.publish();
  EXPECT_EQ(h.consume(), abi::kMaxChain + 5);
  auto cq = h.reap();
  ASSERT_EQ(cq.size(), abi::kMaxChain + 5);
  EXPECT_EQ(cq[0].result, status(Error::limit_reached));
  for (u32 i = 1; i < abi::kMaxChain + 4; ++i) {
    EXPECT_EQ(cq[i].result, status(Error::cancelled)) << "entry " << i;
  }
  EXPECT_EQ(cq[abi::kMaxChain + 3].user_data, 100u);
  EXPECT_EQ(cq[abi::kMaxChain + 4].user_data, 200u);
  EXPECT_EQ(cq[abi::kMaxChain + 4].result, 0);
}

TEST(RingChains, AnOverlongChainPublishedInPiecesStillFailsAsAWhole) {
  RingHarness h;
  for (u32 i = 0; i < abi::kMaxChain; ++i) {
    Sqe s = sqe(Op::nop);
    s.flags = abi::kSqeLink;
    s.user_data = i + 1;
    h.push(s);
  }
  h.publish();
  EXPECT_EQ(h.consume(), abi::kMaxChain);  // already known to be too long: failed at once
  auto cq = h.reap();
  ASSERT_EQ(cq.size(), abi::kMaxChain);
  EXPECT_EQ(cq[0].result, status(Error::limit_reached));
  // Its tail arrives later: still part of the failed chain, up to the entry without LINK.
  Sqe more = sqe(Op::nop);
  more.flags = abi::kSqeLink;
  more.user_data = 50;
  h.push(more);
  h.publish();
  EXPECT_EQ(h.consume(), 1u);
  Sqe end = sqe(Op::nop);
  end.user_data = 51;
  h.push(end);
  Sqe next = sqe(Op::nop);
  next.user_data = 52;
  h.push(next);
  h.publish();
  EXPECT_EQ(h.consume(), 2u);
  cq = h.reap();
  ASSERT_EQ(cq.size(), 3u);
  EXPECT_EQ(cq[0].result, status(Error::cancelled));
  EXPECT_EQ(cq[1].result, status(Error::cancelled));
  EXPECT_EQ(cq[2].user_data, 52u);
  EXPECT_EQ(cq[2].result, 0);
}

TEST(RingChains, AChainOfExactlyTheLimitRuns) {
  RingHarness h;
  for (u32 i = 0; i < abi::kMaxChain; ++i) {
    Sqe s = sqe(Op::nop);
    s.flags = i + 1 < abi::kMaxChain ? abi::kSqeLink : 0;
    h.push(s);
  }
  h.publish();
  EXPECT_EQ(h.consume(), abi::kMaxChain);
  for (const auto& c : h.reap()) EXPECT_EQ(c.result, 0);
}

// --- Flow control and shared-memory counters
// ---------------------------------------------------------------------------

TEST(RingFlow, AFullCompletionQueueStopsIntakeAndNothingIsDropped) {
  RingHarness h({.sq_entries = 16, .cq_entries = 16});
  for (u32 i = 0; i < 16; ++i) {
    Sqe s = sqe(Op::nop);
    s.user_data = i;
    h.push(s);
  }
  h.publish();
  EXPECT_EQ(h.consume(), 16u);  // the CQ has room for all 16
  for (u32 i = 0; i < 8; ++i) {
    Sqe s = sqe(Op::nop);
    s.user_data = 16 + i;
    h.push(s);
  }
  h.publish();
  EXPECT_EQ(h.consume(), 0u);  // no room: the entries wait in the SQ
  EXPECT_EQ(h.consume(), 0u);
  auto cq = h.reap();
  ASSERT_EQ(cq.size(), 16u);
  EXPECT_EQ(h.consume(), 8u);
  cq = h.reap();
  ASSERT_EQ(cq.size(), 8u);
  for (u32 i = 0; i < 8; ++i) EXPECT_EQ(cq[i].user_data, 16u + i);
}

TEST(RingFlow, ParkedOperationsHoldTheirCompletionSlots) {
  RingHarness h({.sq_entries = 4, .cq_entries = 4});
  auto [a, b] = make_channel(h);
  for (u32 i = 0; i < 4; ++i) h.push(read_sqe(h, b, 128 + 64 * i, 16));  // all park
  h.publish();
  EXPECT_EQ(h.consume(), 4u);
  h.push(sqe(Op::nop));
  h.publish();
  EXPECT_EQ(h.consume(), 0u);  // the nop waits: four completions are promised to the reads
  EXPECT_EQ(h.ring().stats().parked, 4u);
  // One message: one read completes, its slot is reaped, and the nop gets in.
  std::memcpy(h.mem(), "x", 1);
  ASSERT_TRUE(h.ring().has_submissions());
  auto ep = h.table().get_as<cap::ChannelEndpoint>(a, cap::Rights::write).value();
  ASSERT_TRUE(ep->write(h.table(), h.account(), std::span<const u8>(h.mem(), 1), {}).has_value());
  EXPECT_EQ(h.process_ready(), 4u);  // all four readers retried; one got the message, three parked again
  EXPECT_EQ(h.reap().size(), 1u);
  EXPECT_EQ(h.ring().stats().parked, 7u);
  EXPECT_EQ(h.consume(), 1u);
  EXPECT_EQ(h.reap().size(), 1u);
}

TEST(RingFlow, CorruptCountersAreHarmless) {
  RingHarness h({.sq_entries = 8, .cq_entries = 8});
  // A tail far ahead of anything the program could have written: nothing is read.
  h.header().sq_tail.store(1000);
  EXPECT_EQ(h.consume(), 0u);
  h.header().sq_tail.store(0);
  // Fill the CQ, then move its head past the tail: the kernel finds no room (it re-reads the head when the one it
  // saw last leaves too little), takes nothing and writes nothing.
  for (u32 i = 0; i < 8; ++i) h.push(sqe(Op::nop));
  h.publish();
  EXPECT_EQ(h.consume(), 8u);
  h.header().cq_head.store(77);
  h.push(sqe(Op::nop));
  h.publish();
  EXPECT_EQ(h.consume(), 0u);
  EXPECT_EQ(h.header().cq_tail.load(), 8u);
  h.header().cq_head.store(8);
  EXPECT_EQ(h.consume(), 1u);
}

TEST(RingFlow, NeedWakeupFlag) {
  RingHarness h;
  EXPECT_EQ(h.header().flags.load() & abi::kRingFlagNeedWakeup, 0u);
  h.ring().set_need_wakeup(true);
  EXPECT_NE(h.header().flags.load() & abi::kRingFlagNeedWakeup, 0u);
  h.ring().doorbell();
  EXPECT_EQ(h.ring().stats().doorbells, 1u);
  h.ring().set_need_wakeup(false);
  EXPECT_EQ(h.header().flags.load() & abi::kRingFlagNeedWakeup, 0u);
}

// --- Teardown with operations in flight
// ----------------------------------------------------------------------------------

TEST(RingTeardown, ParkedOperationsAreCancelledAndNothingLeaks) {
  RingHarness h;
  const u64 objects = cap::KernelObject::live_objects();
  const u64 rings = Ring::live_rings();
  h.account().reclaim();
  const u64 used = h.account().used_bytes();
  auto [a, b] = make_channel(h);
  auto ev = cap::Event::create().value();
  const u32 e = h.add(cap::Ref<cap::KernelObject>::retain(ev.get()), cap::Rights::wait);
  // Parked: reads, a wait with and without a deadline, a timeout, a parked chain.
  for (u32 i = 0; i < 5; ++i) h.push(read_sqe(h, b, 128, 16));
  Sqe w = sqe(Op::wait, e);
  w.arg0 = 1;
  h.push(w);
  w.arg1 = 1'000'000;
  h.push(w);
  Sqe t = sqe(Op::timeout);
  t.arg0 = 1'000'000;
  h.push(t);
  Sqe r = read_sqe(h, b, 128, 16);
  r.flags = abi::kSqeLink;
  h.push(r);
  h.push(sqe(Op::nop));
  h.publish();
  EXPECT_EQ(h.consume(), 10u);
  EXPECT_EQ(h.ring().stats().parked, 9u);
  EXPECT_GT(h.account().used_bytes(), used);
  h.destroy_ring();
  EXPECT_EQ(Ring::live_rings(), rings - 1);
  // The objects the parked ops referred to are still held by the handle table; closing it frees everything.
  h.table().close_all();
  ev.reset();
  EXPECT_EQ(cap::KernelObject::live_objects(), objects);
  h.account().reclaim();
  // The ring region and its bookkeeping are back; only the harness's own buffer block remains.
  EXPECT_LE(h.account().used_bytes(), used);
  (void)a;
}

}  // namespace
}  // namespace platypos::ring
