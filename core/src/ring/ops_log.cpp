// Log namespaces: log_create, log_write, log_read.

#include <platypos/cap/log_namespace.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kLogRights = cap::Rights::read | cap::Rights::write | cap::Rights::wait | cap::Rights::duplicate |
                                   cap::Rights::transfer | cap::Rights::manage;
}  // namespace

Result<i64> op_log_create(OpContext& cx) {
  if (cx.in().empty()) return Error::invalid_argument;
  char name[abi::kMaxLogName];
  cx.in().copy_to(name);  // len <= kMaxLogName (the row's max_len)
  const u64 bytes = cx.sqe().arg0 == 0 ? abi::kDefaultLogBytes : cx.sqe().arg0;
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  auto log = cap::LogNamespace::create(cx.account(), std::string_view(name, cx.in().size()), bytes);
  if (log.is_error()) {
    table.unreserve(slot);
    return log.error();
  }
  return table.add_reserved(slot, static_cast<cap::Ref<cap::LogNamespace>&&>(*log), kLogRights);
}

Result<i64> op_log_write(OpContext& cx) {
  PLATYPOS_TRY(cx.object_as<cap::LogNamespace>().write(cx.in().for_one_copy()));
  return 0;
}

Result<i64> op_log_read(OpContext& cx) {
  usize needed = 0;
  auto r = cx.object_as<cap::LogNamespace>().read(cx.out().for_one_copy(), &needed);
  if (r.has_value()) return static_cast<i64>(*r);
  if (r.error() == Error::buffer_too_small) cx.report_needed(static_cast<u32>(needed), 0);
  if (r.error() != Error::would_block || cx.nonblocking()) return r.error();
  return cx.park(static_cast<cap::Ref<cap::KernelObject>&&>(cx.object()), cap::kSignalReadable, 0);
}

}  // namespace platypos::ring
