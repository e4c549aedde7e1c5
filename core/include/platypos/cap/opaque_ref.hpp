#pragma once
// OpaqueRef: an unforgeable, shareable reference, the seed's object-storage example. A storage server mints one per
// blob with a 64-bit cookie of its choosing (the blob's id) and its issuer key (any object only the server holds, an
// Event say). Clients pass the handle around like any other (duplicate, transfer); it tells them nothing. Only a
// holder of the issuer key can resolve it back to the cookie: a client cannot make one up, nor resolve another
// server's.

#include <platypos/cap/object.hpp>

namespace platypos::cap {

class OpaqueRef final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::opaque_ref;
  // Paid by `payer` (the minting program's account; nullptr: the kernel heap).
  static Result<Ref<OpaqueRef>> create(Ref<KernelObject> issuer_key, u64 cookie, MemoryAccount* payer = nullptr);

  // The cookie, if `key` is the issuer's key; access_denied otherwise.
  Result<u64> resolve(const KernelObject& key) const;

  OpaqueRef(Ref<KernelObject> issuer, u64 cookie);
  ~OpaqueRef() = default;

 private:
  static void destroy_ref(KernelObject* self);
  Ref<KernelObject> issuer_;
  u64 cookie_;
};

}  // namespace platypos::cap
