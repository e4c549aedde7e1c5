// The untrusted boundary, checked from the op table itself: every op rejects what its row says it does not read, every
// handle-taking op refuses bad handles, every buffer outside program memory is out_of_range; a failed op changes
// nothing in the handle table; the ops that reach events, signals, revocation and replacement; WAIT's timeout
// saturates; objects a program makes are paid from its own account, and a program at its limit gets no_memory.

#include <platypos/abi/status.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/ring/status.hpp>

#include <cstring>

#include "ring_harness.hpp"

namespace platypos::ring {
namespace {

using abi::Op;
using abi::Sqe;
using testing::RingHarness;
using testing::sqe;
using testing::status;

constexpr u32 kAllFields[] = {abi::field::handle, abi::field::addr, abi::field::len, abi::field::count,
                              abi::field::addr2,  abi::field::arg0, abi::field::arg1};

void set_field(Sqe& s, u32 field, u64 v) {
  switch (field) {
    case abi::field::handle: s.handle = static_cast<u32>(v); break;
    case abi::field::addr: s.addr = v; break;
    case abi::field::len: s.len = static_cast<u32>(v); break;
    case abi::field::count: s.count = static_cast<u32>(v); break;
    case abi::field::addr2: s.addr2 = v; break;
    case abi::field::arg0: s.arg0 = v; break;
    case abi::field::arg1: s.arg1 = v; break;
  }
}

// What the handle table holds, slot by slot: a failed op must leave it exactly so.
std::vector<std::pair<cap::Handle, cap::HandleInfo>> snapshot(RingHarness& h) {
  std::vector<std::pair<cap::Handle, cap::HandleInfo>> out;
  for (u32 slot = 0; slot < h.table().capacity(); ++slot) {
    for (u32 gen = 1; gen < 8; ++gen) {
      const cap::Handle v = (gen << 16) | slot;
      if (auto i = h.table().info(v); i.has_value()) out.push_back({v, *i});
    }
  }
  return out;
}

bool same(const std::vector<std::pair<cap::Handle, cap::HandleInfo>>& a,
          const std::vector<std::pair<cap::Handle, cap::HandleInfo>>& b) {
  if (a.size() != b.size()) return false;
  for (usize i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.koid != b[i].second.koid || a[i].second.rights != b[i].second.rights ||
        a[i].second.type != b[i].second.type) {
      return false;
    }
  }
  return true;
}

TEST(RingBoundary, EveryOpRejectsTheFieldsItDoesNotRead) {
  RingHarness h;
  for (u8 code = 0; code < abi::kOpCount; ++code) {
    const abi::OpInfo& op = abi::kOpInfo[code];
    for (u32 f : kAllFields) {
      if ((op.fields & f) != 0) continue;
      Sqe s = sqe(static_cast<Op>(code));
      set_field(s, f, 1);
      EXPECT_EQ(h.run_one(s), status(Error::invalid_argument)) << op.name << " with field " << f << " set";
    }
    Sqe r = sqe(static_cast<Op>(code));
    r.reserved0 = 1;
    EXPECT_EQ(h.run_one(r), status(Error::invalid_argument)) << op.name;
    r = sqe(static_cast<Op>(code));
    r.reserved1 = 1;
    EXPECT_EQ(h.run_one(r), status(Error::invalid_argument)) << op.name;
    r = sqe(static_cast<Op>(code));
    r.flags = 0x80;
    EXPECT_EQ(h.run_one(r), status(Error::invalid_argument)) << op.name;
  }
  for (u32 code = abi::kOpCount; code < 256; ++code) {
    Sqe s{};
    s.opcode = static_cast<u8>(code);
    EXPECT_EQ(h.run_one(s), status(Error::not_supported)) << code;
  }
  EXPECT_EQ(h.ring().stats().rejected, h.ring().stats().submitted);  // every one malformed
}

TEST(RingBoundary, EveryHandleOpRefusesBadHandlesAndChangesNothing) {
  RingHarness h;
  const u32 a = static_cast<u32>(static_cast<u64>(h.run_one(sqe(Op::channel_create))) >> 32);
  const auto before = snapshot(h);
  const u32 closed = [&] {
    const i64 d = h.run_one([&] {
      Sqe s = sqe(Op::handle_duplicate, a);
      s.arg0 = abi::rights::read;
      return s;
    }());
    EXPECT_GE(d, 0);
    EXPECT_EQ(h.run_one(sqe(Op::handle_close, static_cast<u32>(d))), 0);
    return static_cast<u32>(d);
  }();
  for (u8 code = 0; code < abi::kOpCount; ++code) {
    const abi::OpInfo& op = abi::kOpInfo[code];
    if (op.handle == abi::HandleUse::none) continue;
    for (const u32 bad : {0xffffu, closed, 0x7fff0000u | 3, ~u32{0}}) {
      Sqe s = sqe(static_cast<Op>(code), bad);
      // Valid arguments where the op needs some, so that the handle is what fails.
      if (code == static_cast<u8>(Op::wait)) s.arg0 = abi::signals::readable;
      if (code == static_cast<u8>(Op::handle_duplicate) || code == static_cast<u8>(Op::handle_replace)) {
        s.arg0 = abi::rights::read;
      }
      if (code == static_cast<u8>(Op::ref_resolve)) s.arg0 = a;
      const i64 r = h.run_one(s);
      EXPECT_EQ(r, status(Error::bad_handle)) << op.name << " with handle " << std::hex << bad;
    }
  }
  EXPECT_TRUE(same(before, snapshot(h)));
}

TEST(RingBoundary, BuffersOutsideProgramMemoryAreOutOfRange) {
  RingHarness h;
  const i64 pair = h.run_one(sqe(Op::channel_create));
  const u32 a = static_cast<u32>(static_cast<u64>(pair) >> 32);
  const u64 end = h.addr(RingHarness::kMemBytes);
  for (u8 code = 0; code < abi::kOpCount; ++code) {
    const abi::OpInfo& op = abi::kOpInfo[code];
    if (op.bytes == abi::Buffer::none) continue;
    for (const u64 addr : {u64{0}, end - 3, ~u64{0} - 2, h.addr(0) - 4096}) {
      Sqe s = sqe(static_cast<Op>(code), op.handle != abi::HandleUse::none ? a : 0);
      s.addr = addr;
      s.len = 8;
      EXPECT_EQ(h.run_one(s), status(Error::out_of_range)) << op.name << " at " << std::hex << addr;
    }
  }
  // A handle array that wraps around the address space, or starts inside and runs out.
  Sqe w = sqe(Op::channel_write, a);
  w.addr2 = end - 8;
  w.count = 4;
  EXPECT_EQ(h.run_one(w), status(Error::out_of_range));
  w.addr2 = ~u64{0} - 3;
  w.count = 2;
  EXPECT_EQ(h.run_one(w), status(Error::out_of_range));
  w.addr2 = h.addr(2);
  w.count = 1;
  EXPECT_EQ(h.run_one(w), status(Error::misaligned));
}

TEST(RingBoundary, EventsSignalsRevocationAndReplacement) {
  RingHarness h;
  const i64 e = h.run_one(sqe(Op::event_create));
  ASSERT_GT(e, 0);
  const u32 ev = static_cast<u32>(e);
  EXPECT_EQ(h.table().info(ev).value().type, cap::ObjectType::event);
  // A user signal wakes a parked WAIT.
  Sqe w = sqe(Op::wait, ev);
  w.arg0 = 1u << 24;
  w.user_data = 7;
  h.push(w);
  h.publish();
  EXPECT_EQ(h.consume(), 1u);
  Sqe sig = sqe(Op::object_signal, ev);
  sig.arg1 = 1u << 24;
  EXPECT_EQ(h.run_one(sig), 0);
  EXPECT_EQ(h.process_ready(0), 1u);
  auto c = h.reap();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].user_data, 7u);
  EXPECT_EQ(static_cast<u64>(c[0].result) & (1u << 24), 1u << 24);
  // Only user bits, and only with SIGNAL.
  sig.arg1 = abi::signals::readable;
  EXPECT_EQ(h.run_one(sig), status(Error::invalid_argument));
  sig.arg1 = 0;
  sig.arg0 = ~u64{0};
  EXPECT_EQ(h.run_one(sig), status(Error::invalid_argument));
  Sqe dup = sqe(Op::handle_duplicate, ev);
  dup.arg0 = abi::rights::wait | abi::rights::duplicate;
  const u32 weak = static_cast<u32>(h.run_one(dup));
  Sqe sig2 = sqe(Op::object_signal, weak);
  sig2.arg1 = 1u << 25;
  EXPECT_EQ(h.run_one(sig2), status(Error::access_denied));
  // Revoke: the other handle stops working, this one goes on.
  EXPECT_EQ(h.run_one(sqe(Op::handle_revoke, weak)), status(Error::access_denied));  // needs MANAGE
  EXPECT_EQ(h.run_one(sqe(Op::handle_revoke, ev)), 0);
  Sqe wait_weak = sqe(Op::wait, weak);
  wait_weak.arg0 = 1u << 24;
  EXPECT_EQ(h.run_one(wait_weak), status(Error::revoked));
  sig.arg0 = 1u << 24;
  sig.arg1 = 0;
  EXPECT_EQ(h.run_one(sig), 0);
  // Replace: fewer rights, the old value closed; more rights than it has: refused, nothing changes.
  const auto before = snapshot(h);
  Sqe more = sqe(Op::handle_replace, weak);
  more.arg0 = abi::rights::all;
  EXPECT_EQ(h.run_one(more), status(Error::revoked));
  Sqe rep = sqe(Op::handle_replace, ev);
  rep.arg0 = abi::rights::all & ~abi::rights::signal & ~abi::rights::manage & ~abi::rights::read & ~abi::rights::write &
             ~abi::rights::listen & ~abi::rights::connect;
  EXPECT_TRUE(same(before, snapshot(h)));
  const i64 r = h.run_one(rep);
  ASSERT_GT(r, 0);
  EXPECT_EQ(h.table().info(ev).error(), Error::bad_handle);
  Sqe sig3 = sqe(Op::object_signal, static_cast<u32>(r));
  EXPECT_EQ(h.run_one(sig3), status(Error::access_denied));
  // The reserved bit (a future MAP right) and bits above the rights are refused.
  dup = sqe(Op::handle_duplicate, static_cast<u32>(r));
  dup.arg0 = 1u << 6;
  EXPECT_EQ(h.run_one(dup), status(Error::invalid_argument));
  dup.arg0 = 1u << 10;  // above connect (bit 9), the highest right
  EXPECT_EQ(h.run_one(dup), status(Error::invalid_argument));
}

TEST(RingBoundary, AWaitTimeoutSaturatesInsteadOfWrapping) {
  RingHarness h;
  const u32 ev = static_cast<u32>(h.run_one(sqe(Op::event_create)));
  Sqe w = sqe(Op::wait, ev);
  w.arg0 = 1u << 24;
  w.arg1 = ~u64{0};  // now + this does not fit: a deadline too far to represent, not one in the past
  w.user_data = 1;
  h.push(w);
  h.publish();
  EXPECT_EQ(h.consume(), 1u);
  EXPECT_EQ(h.process_ready(~u64{0} - 1), 0u);  // not expired, whatever the time
  EXPECT_TRUE(h.reap().empty());
  EXPECT_EQ(h.ring().next_deadline(), 0u);  // too far to represent: waits without one
  // A timeout too long for TIMEOUT is refused outright.
  Sqe t = sqe(Op::timeout);
  t.arg0 = abi::kMaxTimeoutNs + 1;
  EXPECT_EQ(h.run_one(t), status(Error::invalid_argument));
}

TEST(RingBoundary, ObjectsArePaidByTheProgramAndItsLimitIsItsOwn) {
  RingHarness h({}, 1 * MiB);
  const u64 heap_objects = kernel_heap().live_objects();
  const u64 used0 = h.account().used_bytes();
  // Channels until the program's own memory is used up.
  u32 made = 0;
  i64 r = 0;
  for (;;) {
    r = h.run_one(sqe(Op::channel_create));
    if (r < 0) break;
    ++made;
    ASSERT_LT(made, 100'000u);
  }
  EXPECT_TRUE(r == status(Error::no_memory) || r == status(Error::no_resources)) << r;
  EXPECT_GT(made, 0u);
  EXPECT_GT(h.account().used_bytes(), used0);
  // Nothing of it came from the kernel heap: the kernel, and every other process, are unaffected.
  EXPECT_EQ(kernel_heap().live_objects(), heap_objects);
  auto other = cap::ChannelEndpoint::create();
  EXPECT_TRUE(other.has_value());
  // (Every other kind of object, and the exact error at the limit: the next test.)
}

// Every op that makes a kernel object: the object is paid from the program's account (never the kernel heap), and
// at the account's limit each of them fails with no_memory and changes nothing, while the kernel can still make
// objects for others.
TEST(RingBoundary, EveryObjectAProgramCreatesIsPaidByItAndRefusedAtItsLimit) {
  RingHarness h({}, 1 * MiB);
  std::memcpy(h.mem(), "billed", 6);
  auto key_ev = cap::Event::create().value();
  const u32 key = h.add(cap::Ref<cap::KernelObject>::retain(key_ev.get()), cap::Rights::manage);
  const u64 heap_objects = kernel_heap().live_objects();
  Sqe memory = sqe(Op::memory_create);
  memory.arg0 = kPageSize;
  Sqe log = sqe(Op::log_create);
  log.addr = h.addr();
  log.len = 6;
  log.arg0 = abi::kMinLogBytes;
  Sqe ref = sqe(Op::ref_create, key);
  ref.arg0 = 1;
  const Sqe creators[] = {sqe(Op::channel_create), sqe(Op::event_create), memory, log, ref};
  auto name = [](const Sqe& s) { return abi::op_info(s.opcode)->name; };
  for (const Sqe& s : creators) {
    const u64 used = h.account().used_bytes(), objects = h.account().live_objects();
    ASSERT_GT(h.run_one(s), 0) << name(s);
    EXPECT_TRUE(h.account().used_bytes() > used || h.account().live_objects() > objects)
        << name(s) << " was not paid by the program";
    EXPECT_EQ(kernel_heap().live_objects(), heap_objects) << name(s) << " took from the kernel heap";
  }
  // Fill the account: large memory objects first, then every creator in turn until a round where none succeeds
  // (an object may still fit in a partly used slab page after another kind no longer does).
  Sqe big = memory;
  for (big.arg0 = 256 * KiB; big.arg0 >= kPageSize; big.arg0 /= 2) {
    while (h.run_one(big) > 0) {
    }
  }
  for (bool any = true; any;) {
    any = false;
    for (const Sqe& s : creators) {
      while (h.run_one(s) > 0) any = true;
    }
  }
  ASSERT_GT(h.table().free_slots(), 8u) << "the handle table filled before the account: the test proves nothing";
  for (const Sqe& s : creators) {
    const u64 used = h.account().used_bytes(), objects = h.account().live_objects();
    const u32 slots = h.table().free_slots();
    EXPECT_EQ(h.run_one(s), status(Error::no_memory)) << name(s);
    EXPECT_EQ(h.account().used_bytes(), used) << name(s) << " changed the account although it failed";
    EXPECT_EQ(h.account().live_objects(), objects) << name(s) << " left an object behind although it failed";
    EXPECT_EQ(h.table().free_slots(), slots) << name(s) << " changed the table although it failed";
  }
  EXPECT_EQ(kernel_heap().live_objects(), heap_objects);
  EXPECT_TRUE(cap::ChannelEndpoint::create().has_value());  // the kernel, and every other process, unaffected
}

TEST(RingBoundary, ErrorsCrossTheBoundaryAsTheirStatus) {
  for (u16 e = 1; e < kErrorCount; ++e) {
    const abi::Status s = to_status(static_cast<Error>(e));
    EXPECT_STREQ(abi::status_name(s), error_name(static_cast<Error>(e)));
    EXPECT_EQ(error_result(static_cast<Error>(e)), abi::error_result(s));
  }
}

}  // namespace
}  // namespace platypos::ring
