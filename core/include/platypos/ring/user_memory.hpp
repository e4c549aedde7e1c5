#pragma once
// Program memory as the kernel may touch it. A program's memory is hostile: another core of the same process can
// rewrite it at any moment, also while the kernel is reading it. So a range of it is never a plain pointer in kernel
// code: UserIn is a range the kernel reads, UserOut one it writes, each checked to lie inside the program's memory
// when it is made (Ring::user_in/user_out), and the only ways to read a UserIn copy it into kernel memory:
//
//   copy_to(dst)       the whole range into kernel memory; the copy is what gets validated and used
//   for_one_copy()     for a callee that makes exactly one sequential pass copying it into its own memory (a
//                      message's payload, a memory object's pages) and never decides anything from the bytes
//
// The rule this makes easy to keep (and tests/loom/ring_boundary_loom.cpp, RingRace in tests/unit/ring/process_test.cpp
// and the simulator's hostile scenario check): copy in once, then validate the copy, then use the copy; never read
// program memory twice.
//
// The copies race with the program's cores by design: base/program_copy.hpp says how they stay out of the race
// detector's view.

#include <platypos/base/program_copy.hpp>
#include <platypos/base/types.hpp>

#include <span>

namespace platypos::ring {

class UserIn {
 public:
  UserIn() = default;
  UserIn(const u8* p, u64 n) : p_(p), n_(n) {}
  u64 size() const { return n_; }
  bool empty() const { return n_ == 0; }
  // Copies all size() bytes into `dst` (kernel memory).
  void copy_to(void* dst) const { copy_program_memory(dst, p_, n_); }
  std::span<const u8> for_one_copy() const { return {p_, static_cast<usize>(n_)}; }

 private:
  const u8* p_ = nullptr;
  u64 n_ = 0;
};

class UserOut {
 public:
  UserOut() = default;
  UserOut(u8* p, u64 n) : p_(p), n_(n) {}
  u64 size() const { return n_; }
  bool empty() const { return n_ == 0; }
  // Writes `n` (<= size()) bytes from kernel memory.
  void copy_from(const void* src, u64 n) const { copy_program_memory(p_, src, n); }
  std::span<u8> for_one_copy() const { return {p_, static_cast<usize>(n_)}; }

 private:
  u8* p_ = nullptr;
  u64 n_ = 0;
};

}  // namespace platypos::ring
