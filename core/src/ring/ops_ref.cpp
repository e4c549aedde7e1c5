// Opaque references: ref_create, ref_resolve.

#include <platypos/cap/opaque_ref.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kRefRights = cap::Rights::duplicate | cap::Rights::transfer;
// A cookie is the issuer's 63-bit value: a completion result must stay non-negative.
constexpr u64 kMaxCookie = (u64{1} << 63) - 1;
}  // namespace

Result<i64> op_ref_create(OpContext& cx) {
  if (cx.sqe().arg0 > kMaxCookie) return Error::invalid_argument;
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  auto ref =
      cap::OpaqueRef::create(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cx.sqe().arg0, &cx.account());
  if (ref.is_error()) {
    table.unreserve(slot);
    return ref.error();
  }
  return table.add_reserved(slot, static_cast<cap::Ref<cap::OpaqueRef>&&>(*ref), kRefRights);
}

Result<i64> op_ref_resolve(OpContext& cx) {
  if (cx.sqe().arg0 > 0xffffffffu) return Error::invalid_argument;
  auto key =
      PLATYPOS_TRY(cx.table().get(static_cast<cap::Handle>(cx.sqe().arg0), cap::Rights::manage, cap::ObjectType::any));
  return static_cast<i64>(PLATYPOS_TRY(cx.object_as<cap::OpaqueRef>().resolve(*key)));
}

}  // namespace platypos::ring
