// Channel ops: channel_create, channel_write, channel_read.

#include <platypos/cap/channel.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kChannelRights =
    cap::Rights::read | cap::Rights::write | cap::Rights::transfer | cap::Rights::duplicate | cap::Rights::wait;
}  // namespace

Result<i64> op_channel_create(OpContext& cx) {
  cap::HandleTable& table = cx.table();
  // Both slots first, so that a full table (or another core of the process filling it meanwhile) changes nothing.
  cap::HandleTable::Reserved slots = PLATYPOS_TRY(table.reserve(2));
  auto pair = cap::ChannelEndpoint::create(&cx.account());
  if (pair.is_error()) {
    table.unreserve(slots);
    return pair.error();
  }
  const cap::Handle h0 =
      table.add_reserved(slots, static_cast<cap::Ref<cap::ChannelEndpoint>&&>(pair->a), kChannelRights);
  const cap::Handle h1 =
      table.add_reserved(slots, static_cast<cap::Ref<cap::ChannelEndpoint>&&>(pair->b), kChannelRights);
  return (static_cast<i64>(h0) << 32) | h1;
}

Result<i64> op_channel_write(OpContext& cx) {
  // The handles are the dispatcher's kernel copy; the bytes are copied once, into the message.
  PLATYPOS_TRY(
      cx.object_as<cap::ChannelEndpoint>().write(cx.table(), cx.account(), cx.in().for_one_copy(), cx.handles_in()));
  return 0;
}

Result<i64> op_channel_read(OpContext& cx) {
  auto& ep = cx.object_as<cap::ChannelEndpoint>();
  cap::Handle got[kMaxHandleArray];
  cap::ChannelEndpoint::ReadSizes needed;
  auto r = ep.read(cx.table(), cx.out().for_one_copy(), std::span<cap::Handle>(got, cx.handles_out_count()), &needed);
  if (r.has_value()) {
    cx.handles_out().copy_from(got, u64{r->handles} * sizeof(cap::Handle));
    return static_cast<i64>(r->bytes) | (static_cast<i64>(r->handles) << 32);
  }
  if (r.error() == Error::buffer_too_small) cx.report_needed(needed.bytes, needed.handles);
  if (r.error() != Error::would_block || cx.nonblocking()) return r.error();
  return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable | cap::kSignalPeerClosed,
                 0);
}

}  // namespace platypos::ring
