#pragma once
// MemoryObject: pages taken from the creating process's MemoryAccount (its dedicated memory), addressable by
// offset (read and write). The object itself and its page list are paid from the same account, which it holds a
// reference to, so the pages stay valid wherever the handle travels; they go back when the object is destroyed.

#include <platypos/abi/limits.hpp>
#include <platypos/cap/object.hpp>
#include <platypos/mm/memory_account.hpp>

#include <span>

namespace platypos::cap {

class MemoryObject final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::memory_object;
  // `bytes` (rounded up to pages, zero-filled) from `account`. invalid_argument (0 or above
  // abi::kMaxMemoryObjectBytes), no_memory.
  static Result<Ref<MemoryObject>> create(MemoryAccount& account, u64 bytes);

  u64 size() const { return pages_ << kPageShift; }
  // Copies out of / into the object. out_of_range if [offset, offset + len) is not inside it.
  Result<void> read(u64 offset, std::span<u8> out) const;
  Result<void> write(u64 offset, std::span<const u8> in);
  // The physical page backing byte `offset` (for mapping). out_of_range outside.
  Result<PhysAddr> page_at(u64 offset) const;

  MemoryObject(MemoryAccount& account, PhysAddr* pages, u64 count);
  ~MemoryObject();

 private:
  static void destroy_memory(KernelObject* self);
  template <class F>
  Result<void> for_range(u64 offset, u64 len, F&& f) const;

  MemoryAccount& account_;
  PhysAddr* page_list_;  // pages_ entries, allocated from the account too
  u64 pages_;
};

}  // namespace platypos::cap
