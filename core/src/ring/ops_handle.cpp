// Handle ops: handle_duplicate, handle_close, handle_revoke, handle_replace. Each works on the table entry the
// handle names (HandleUse::entry) and checks the rights the op's row names as part of it.

#include "op.hpp"

namespace platypos::ring {
namespace {
Result<cap::Rights> rights_arg(u64 v) {
  if (v > abi::rights::all || !cap::valid_rights(static_cast<cap::Rights>(v))) return Error::invalid_argument;
  return static_cast<cap::Rights>(v);
}
}  // namespace

Result<i64> op_handle_duplicate(OpContext& cx) {
  const cap::Rights rights = PLATYPOS_TRY(rights_arg(cx.sqe().arg0));
  return PLATYPOS_TRY(cx.table().duplicate(cx.sqe().handle, rights));  // needs DUPLICATE
}

Result<i64> op_handle_close(OpContext& cx) {
  PLATYPOS_TRY(cx.table().close(cx.sqe().handle));
  return 0;
}

Result<i64> op_handle_revoke(OpContext& cx) {
  PLATYPOS_TRY(cx.table().revoke(cx.sqe().handle));  // needs MANAGE
  return 0;
}

Result<i64> op_handle_replace(OpContext& cx) {
  const cap::Rights rights = PLATYPOS_TRY(rights_arg(cx.sqe().arg0));
  return PLATYPOS_TRY(cx.table().replace(cx.sqe().handle, rights));
}

}  // namespace platypos::ring
