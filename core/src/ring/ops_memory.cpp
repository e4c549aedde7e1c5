// Memory objects: memory_create, memory_read, memory_write.

#include <platypos/cap/memory_object.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kMemoryRights =
    cap::Rights::read | cap::Rights::write | cap::Rights::transfer | cap::Rights::duplicate;
}  // namespace

Result<i64> op_memory_create(OpContext& cx) {
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  auto mo = cap::MemoryObject::create(cx.account(), cx.sqe().arg0);
  if (mo.is_error()) {
    table.unreserve(slot);
    return mo.error();
  }
  return table.add_reserved(slot, static_cast<cap::Ref<cap::MemoryObject>&&>(*mo), kMemoryRights);
}

Result<i64> op_memory_read(OpContext& cx) {
  PLATYPOS_TRY(cx.object_as<cap::MemoryObject>().read(cx.sqe().arg0, cx.out().for_one_copy()));
  return cx.sqe().len;
}

Result<i64> op_memory_write(OpContext& cx) {
  PLATYPOS_TRY(cx.object_as<cap::MemoryObject>().write(cx.sqe().arg0, cx.in().for_one_copy()));
  return cx.sqe().len;
}

}  // namespace platypos::ring
