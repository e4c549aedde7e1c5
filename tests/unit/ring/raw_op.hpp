#pragma once
// Raw entries from a test program: an Sqe built field by field (malformed on purpose, often), submitted as it is,
// its completion's result returned as a number (negative: the status). For the boundary tests of each op family.

#include <platypos/user/context.hpp>

#include <cstdint>

namespace platypos::ring::testing {

inline user::Expected<std::int64_t> raw_result(std::int64_t r) {
  if (r < 0) return abi::status_of(r);
  return r;
}

inline user::Task<std::int64_t> raw(user::Context& cx, abi::Op op, std::uint32_t handle, std::uint64_t addr = 0,
                                    std::uint32_t len = 0, std::uint64_t arg0 = 0, std::uint64_t arg1 = 0,
                                    std::uint8_t flags = 0) {
  abi::Sqe s{};
  s.opcode = static_cast<std::uint8_t>(op);
  s.flags = flags;
  s.handle = handle;
  s.addr = addr;
  s.len = len;
  s.arg0 = arg0;
  s.arg1 = arg1;
  auto r = co_await user::Operation<std::int64_t>(cx, s, &raw_result);
  co_return r ? *r : -static_cast<std::int64_t>(r.status());
}

// The result a raw entry gives for status `s`.
constexpr std::int64_t st(user::Status s) { return -static_cast<std::int64_t>(s); }

}  // namespace platypos::ring::testing
