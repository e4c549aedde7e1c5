// The op table's kernel half: one handler per row of PLATYPOS_ABI_OPS, and the generic checks every entry passes
// before its handler runs, in this order (the first failure is the completion's status):
//   1. opcode known (not_supported); flags known, reserved fields zero, every field the op does not read zero
//      (invalid_argument)
//   2. sizes within the row's limits: len <= max_len, count <= max_count (invalid_argument)
//   3. buffers inside the program's memory (out_of_range), handle arrays and ReadNeeded 4-byte aligned (misaligned)
//   4. a handle array the op reads is copied into kernel memory, once
//   5. the handle looked up: bad_handle, revoked, wrong_type, access_denied
// Everything after that is the handler's.

#include <platypos/base/checked.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {

using abi::Buffer;
using abi::HandleUse;
using abi::OpInfo;
using abi::Sqe;

using Handler = Result<i64> (*)(OpContext& cx);
constexpr Handler kHandlers[] = {
#define PLATYPOS_RING_HANDLER(name, ...) &op_##name,
    PLATYPOS_ABI_OPS(PLATYPOS_RING_HANDLER)
#undef PLATYPOS_RING_HANDLER
};
static_assert(sizeof(kHandlers) / sizeof(kHandlers[0]) == abi::kOpCount, "one handler per op");

constexpr bool reads(const OpInfo& op, u32 field) { return (op.fields & field) != 0; }

Error check_shape(const Sqe& s, const OpInfo& op) {
  if ((s.flags & ~abi::kSqeKnownFlags) != 0 || s.reserved0 != 0 || s.reserved1 != 0) return Error::invalid_argument;
  namespace f = abi::field;
  if ((!reads(op, f::handle) && s.handle != 0) || (!reads(op, f::addr) && s.addr != 0) ||
      (!reads(op, f::len) && s.len != 0) || (!reads(op, f::count) && s.count != 0) ||
      (!reads(op, f::addr2) && s.addr2 != 0) || (!reads(op, f::arg0) && s.arg0 != 0) ||
      (!reads(op, f::arg1) && s.arg1 != 0)) {
    return Error::invalid_argument;
  }
  if (op.max_len != 0 && s.len > op.max_len) return Error::invalid_argument;
  if (op.handles != Buffer::none && s.count > op.max_count) return Error::invalid_argument;
  return Error::none;
}

}  // namespace

cap::HandleTable& OpContext::table() const { return ring_.process_->handles(); }

void OpContext::report_needed(u32 bytes, u32 handles) const {
  if (needed_.empty()) return;
  const abi::ReadNeeded n{bytes, handles};
  needed_.copy_from(&n, sizeof n);
}

bool OpContext::signalled() const { return resumed_ != nullptr && resumed_->signalled; }
u32 OpContext::observed() const { return resumed_ != nullptr ? resumed_->observer.observed : 0; }
cap::KernelObject* OpContext::parked_on() const { return resumed_ != nullptr ? resumed_->object.get() : nullptr; }

Result<i64> OpContext::park(cap::Ref<cap::KernelObject> object, u32 wanted, u64 deadline) {
  parked_ = PLATYPOS_TRY(ring_.park(sqe_, static_cast<cap::Ref<cap::KernelObject>&&>(object), wanted, deadline));
  return Error::would_block;
}

Ring::Outcome Ring::dispatch(const Sqe& s, const PendingOp* resumed) {
  // A malformed entry (steps 1-3) counts as rejected; a handle that does not allow the op is an ordinary failure.
  auto fail = [&](Error e) {
    ++stats_.rejected;
    return Outcome{error_result(e), nullptr};
  };
  const OpInfo* op = abi::op_info(s.opcode);
  if (op == nullptr) return fail(Error::not_supported);
  if (const Error e = check_shape(s, *op); e != Error::none) return fail(e);

  OpContext cx(*this, s, resumed);
  // Buffers: ranges of the program's memory, checked once here from the kernel's copy of the entry.
  auto range = [&](u64 addr, u64 len) -> Result<u8*> {
    if (len == 0) return static_cast<u8*>(nullptr);
    if (!range_within(addr, len, user_base_, heap_bytes_)) return Error::out_of_range;
    return heap_ + (addr - user_base_);
  };
  if (op->bytes != Buffer::none) {
    Result<u8*> p = range(s.addr, s.len);
    if (p.is_error()) return fail(p.error());
    if (op->bytes == Buffer::in) {
      cx.in_ = UserIn(*p, s.len);
    } else {
      cx.out_ = UserOut(*p, s.len);
    }
  }
  if (op->handles != Buffer::none) {
    Result<u8*> p = range(s.addr2, u64{s.count} * sizeof(cap::Handle));  // count <= max_count: no overflow
    if (p.is_error()) return fail(p.error());
    if (s.count > 0 && !is_aligned(s.addr2, alignof(cap::Handle))) return fail(Error::misaligned);
    cx.handle_count_ = s.count;
    if (op->handles == Buffer::in) {
      UserIn(*p, u64{s.count} * sizeof(cap::Handle)).copy_to(cx.handles_);  // once: only the copy is looked at
    } else {
      cx.handles_out_ = UserOut(*p, u64{s.count} * sizeof(cap::Handle));
    }
  }
  if (op->read_needed && s.arg1 != 0) {
    Result<u8*> p = range(s.arg1, sizeof(abi::ReadNeeded));
    if (p.is_error()) return fail(p.error());
    if (!is_aligned(s.arg1, alignof(abi::ReadNeeded))) return fail(Error::misaligned);
    cx.needed_ = UserOut(*p, sizeof(abi::ReadNeeded));
  }
  if (op->handle == HandleUse::object || (op->handle == HandleUse::object_or_self && s.handle != 0)) {
    auto obj = process_->handles().get(s.handle, static_cast<cap::Rights>(op->rights), op->object);
    if (obj.is_error()) return Outcome{error_result(obj.error()), nullptr};
    cx.object_ = static_cast<cap::Ref<cap::KernelObject>&&>(*obj);
  }

  Result<i64> r = kHandlers[s.opcode](cx);
  if (cx.parked_ != nullptr) return Outcome{0, cx.parked_};
  if (r.is_error()) return Outcome{error_result(r.error()), nullptr};
  PLATYPOS_ASSERT(*r >= 0, "op {} returned the negative value {} as a success", op->name, *r);
  return Outcome{*r, nullptr};
}

}  // namespace platypos::ring
