#pragma once
// KernelObject: what a handle names. Every object has a type tag (no RTTI: code switches on type()), a reference
// count, a kernel object id (koid, never reused), signal bits, and a revocation epoch.
//
// Lifetime: references are held by handles in handle tables, by messages in flight, by operations parked on the
// object, and by kernel code through Ref<T>. When the last goes, the object's type-specific destroy function frees
// it. Objects are not copyable or movable.
//
// Billing: an object a program causes the kernel to make is paid from that program's MemoryAccount (make_object()
// with the account as payer; the object keeps a reference to it and gives the bytes back when it is destroyed), so a
// program that makes objects without end runs into its own limit (no_memory), never the kernel's or anyone else's.
// Objects the kernel makes for itself (a payer of nullptr) come from the kernel heap.
//
// Signals: bits the object raises and clears as its state changes (readable, peer closed, exited, user bits).
// Observers register interest in some bits and are called, under the object's lock, as soon as any of them is
// set: a task waiting (wait_signals) or a system-call ring's parked WAIT. Callbacks must be short and must not call
// back into the object (lock order: object lock, then run queue / ring locks).
//
// Revocation: the holder of a MANAGE handle can revoke the object. Every handle carries the epoch it was made in;
// revoking starts a new epoch, so all other handles fail with Error::revoked on use while the revoker's goes on.

#include <platypos/abi/handles.hpp>
#include <platypos/base/intrusive_list.hpp>
#include <platypos/base/result.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/mm/memory_account.hpp>
#include <platypos/sync/atomic.hpp>
#include <platypos/sync/spinlock.hpp>

#include <new>
#include <utility>

namespace platypos::cap {

// Types and signal bits are the ABI's (abi/handles.hpp): one definition.
using ObjectType = abi::ObjectType;
const char* object_type_name(ObjectType t);

// Signal bits. The low bits mean different things per type; user bits (SIGNAL right) are the same everywhere.
inline constexpr u32 kSignalReadable = abi::signals::readable;       // channel: a message is queued; log: records
inline constexpr u32 kSignalWritable = abi::signals::writable;       // channel: the peer's queue has room
inline constexpr u32 kSignalPeerClosed = abi::signals::peer_closed;  // channel: the other end is gone
inline constexpr u32 kSignalExited = abi::signals::exited;           // process: it has exited
inline constexpr u32 kSignalRevoked = abi::signals::revoked;         // any: revoked by its manager
inline constexpr u32 kSignalUserMask = abi::signals::user_mask;

struct ObserverTag;

// Interest in an object's signals. Owned by whoever registered it (it lives on a waiting task's stack, or in a
// parked ring operation); it must be removed (or have fired) before it goes away.
struct Observer : ListNode<ObserverTag> {
  u32 wanted = 0;
  u32 observed = 0;  // the signals at the moment it fired
  bool fired = false;
  void (*callback)(Observer* self) = nullptr;
  void* context = nullptr;
};

class KernelObject {
 public:
  using DestroyFn = void (*)(KernelObject* self);

  KernelObject(const KernelObject&) = delete;
  KernelObject& operator=(const KernelObject&) = delete;

  ObjectType type() const { return type_; }
  u64 koid() const { return koid_; }
  u32 signals() const { return signals_.load(std::memory_order_acquire); }
  u32 epoch() const { return epoch_.load(std::memory_order_acquire); }
  u32 ref_count() const { return refs_.load(std::memory_order_relaxed); }

  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Drops a reference; the last one destroys the object.
  void release();

  // Sets and clears signal bits, firing every observer whose wanted bits are now set (each observer fires once and is
  // removed).
  void update_signals(u32 clear_mask, u32 set_mask);

  // Registers `o`. If a wanted signal is already set, it fires at once (and is not kept). Returns true if it fired.
  bool observe(Observer& o);
  // Unregisters `o` if it has not fired. Returns true if it was still registered.
  bool cancel(Observer& o);

  // Starts a new epoch (handles from earlier epochs fail with Error::revoked) and raises kSignalRevoked.
  u32 revoke();

  // Number of live kernel objects of all types (leak checks).
  static u64 live_objects();
  // The account that pays for the object's memory (nullptr: the kernel heap).
  MemoryAccount* payer() const { return payer_; }

 protected:
  KernelObject(ObjectType type, DestroyFn destroy);
  ~KernelObject();
  SpinLock lock_{"kernel object"};

 private:
  void fire_locked(u32 signals);

  ObjectType type_;
  DestroyFn destroy_;
  u64 koid_;
  Atomic<u32> refs_{1};
  Atomic<u32> signals_{0};
  Atomic<u32> epoch_{0};
  IntrusiveList<Observer, ObserverTag> observers_;
  MemoryAccount* payer_ = nullptr;  // holds a reference

  template <class T, class... Args>
  friend Result<T*> make_object(MemoryAccount* payer, Args&&... args);
};

// Allocates and constructs a kernel object of type T, paid by `payer` (which it retains until free_object), or by
// the kernel heap when payer is nullptr. Fails with no_memory (the payer's account or the kernel heap is used up).
template <class T, class... Args>
Result<T*> make_object(MemoryAccount* payer, Args&&... args) {
  static_assert(alignof(T) <= 16, "account allocations are 16-byte aligned");
  void* mem = payer != nullptr ? PLATYPOS_TRY(payer->alloc_bytes(sizeof(T)))
                               : PLATYPOS_TRY(kernel_heap().alloc(sizeof(T), alignof(T)));
  T* obj = new (mem) T(std::forward<Args>(args)...);
  if (payer != nullptr) payer->retain();
  static_cast<KernelObject*>(obj)->payer_ = payer;
  return obj;
}

// Destroys an object made by make_object() and gives its memory back to whoever paid.
template <class T>
void free_object(T* obj) {
  MemoryAccount* payer = obj->payer();
  obj->~T();
  if (payer == nullptr) {
    kernel_heap().free(obj, sizeof(T), alignof(T)).expect("kernel object");
    return;
  }
  payer->free_bytes(obj, sizeof(T));
  payer->release();
}

// A counted reference: retains on copy, releases on destruction. Adopting a fresh object (refcount 1) takes over
// that first reference.
template <class T>
class Ref {
 public:
  Ref() = default;
  static Ref adopt(T* p) { return Ref(p); }
  static Ref retain(T* p) {
    if (p != nullptr) p->retain();
    return Ref(p);
  }
  Ref(const Ref& o) : p_(o.p_) {
    if (p_ != nullptr) p_->retain();
  }
  Ref(Ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  requires std::is_convertible_v<U*, T*> Ref(Ref<U>&& o) : p_(o.leak()) {}
  Ref& operator=(Ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Ref() { reset(); }

  void reset() {
    if (T* p = std::exchange(p_, nullptr)) p->release();
  }
  // Gives up ownership without releasing (the caller now owns one reference).
  T* leak() { return std::exchange(p_, nullptr); }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  explicit Ref(T* p) : p_(p) {}
  T* p_ = nullptr;
};

// Casts a Ref<KernelObject> whose type() the caller checked.
template <class T>
Ref<T> ref_cast(Ref<KernelObject>&& r) {
  return Ref<T>::adopt(static_cast<T*>(r.leak()));
}

}  // namespace platypos::cap
