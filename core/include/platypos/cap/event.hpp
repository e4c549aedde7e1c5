#pragma once
// Event: an object with nothing but signals. Holders with SIGNAL set and clear its user bits; holders with WAIT wait
// on them. Also the natural "key" object: an opaque-reference issuer keeps one to prove who it is.

#include <platypos/cap/object.hpp>

namespace platypos::cap {

class Event final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::event;
  // Paid by `payer` (nullptr: the kernel heap).
  static Result<Ref<Event>> create(MemoryAccount* payer = nullptr);
  // Sets and clears user signal bits (kSignalUserMask); other bits: invalid_argument.
  Result<void> signal(u32 clear_mask, u32 set_mask);

  Event();
  ~Event() = default;

 private:
  static void destroy_event(KernelObject* self);
};

}  // namespace platypos::cap
