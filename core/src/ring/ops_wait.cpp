// Waiting and signalling: wait, timeout, event_create, object_signal.

#include <platypos/base/checked.hpp>
#include <platypos/cap/event.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kEventRights =
    cap::Rights::wait | cap::Rights::signal | cap::Rights::duplicate | cap::Rights::transfer | cap::Rights::manage;

// now + ns, saturating: a deadline too far away to represent is no deadline (0).
u64 deadline_after(u64 ns) {
  const u64 d = saturating_add(Platform::now_ns(), ns);
  return d == ~u64{0} ? 0 : d;
}

Result<u32> signal_mask(u64 v) {
  if ((v & ~u64{cap::kSignalUserMask}) != 0) return Error::invalid_argument;
  return static_cast<u32>(v);
}
}  // namespace

Result<i64> op_wait(OpContext& cx) {
  const u64 wanted = cx.sqe().arg0;
  if (wanted == 0 || wanted > 0xffffffffu) return Error::invalid_argument;
  if (cx.resumed()) {
    if (!cx.signalled()) return Error::timed_out;
    return cx.observed();
  }
  if (const u32 now = cx.object()->signals(); (now & wanted) != 0) return now;
  if (cx.nonblocking()) return Error::would_block;
  const u64 timeout = cx.sqe().arg1;
  const u64 deadline = timeout != 0 ? deadline_after(timeout) : 0;
  return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), static_cast<u32>(wanted), deadline);
}

Result<i64> op_timeout(OpContext& cx) {
  const u64 ns = cx.sqe().arg0;
  if (ns > abi::kMaxTimeoutNs) return Error::invalid_argument;
  if (ns == 0 || cx.resumed()) return 0;
  return cx.park(cap::Ref<cap::KernelObject>(), 0, saturating_add(Platform::now_ns(), ns));
}

Result<i64> op_event_create(OpContext& cx) {
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  auto event = cap::Event::create(&cx.account());
  if (event.is_error()) {
    table.unreserve(slot);
    return event.error();
  }
  return table.add_reserved(slot, static_cast<cap::Ref<cap::Event>&&>(*event), kEventRights);
}

Result<i64> op_object_signal(OpContext& cx) {
  const u32 clear = PLATYPOS_TRY(signal_mask(cx.sqe().arg0));
  const u32 set = PLATYPOS_TRY(signal_mask(cx.sqe().arg1));
  cx.object()->update_signals(clear, set);
  return 0;
}

}  // namespace platypos::ring
