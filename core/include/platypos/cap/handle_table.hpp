#pragma once
// HandleTable: a process's capabilities. A handle value names a slot of the table and the slot's generation, so a
// closed value is detected (and is not handed out again until the slot has been reused 32767 times: free slots are
// reused in FIFO order). Lookup is O(1). Each entry holds a reference to its object, the rights, and the object's
// revocation epoch when the handle was made.
//
//   handle = generation << 16 | slot        (generation in 1..0x7fff, so a handle is never 0 and always positive)
//
// The table's storage is taken from the owning process's memory (its MemoryAccount) when it is set up, so its fixed
// capacity is part of what the process was admitted with.
//
// Every operation on a bad, closed, stale, wrong-type, revoked or insufficient-rights handle fails with a specific
// error (bad_handle, wrong_type, revoked, access_denied) and changes nothing.
//
// Thread-safe: one IRQ-safe lock per table (the process's kernel core, its exit, and the cycle collector use it).
// Objects are released after the lock is dropped (a release may destroy the object, which may take other locks).

#include <platypos/abi/limits.hpp>
#include <platypos/base/result.hpp>
#include <platypos/cap/object.hpp>
#include <platypos/cap/rights.hpp>
#include <platypos/mm/memory_account.hpp>
#include <platypos/sync/spinlock.hpp>

#include <span>

namespace platypos::cap {

using Handle = u32;
inline constexpr Handle kInvalidHandle = 0;

struct HandleInfo {
  ObjectType type;
  Rights rights;
  u64 koid;
};

// A handle lifted out of a table (in a message in flight): the object reference, its rights and epoch.
struct Capability {
  KernelObject* object = nullptr;  // owns one reference
  Rights rights = Rights::none;
  u32 epoch = 0;
};

class HandleTable {
 public:
  static constexpr u32 kMaxCapacity = 0xffff;
  // Most handles one transfer_out() moves (a message's, a spawn's).
  static constexpr u32 kMaxTransfer = abi::kMaxMessageHandles;

  HandleTable() = default;
  ~HandleTable();
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  // Takes storage for `capacity` handles from `account` (which it retains). Fails with bad_state (already set up),
  // invalid_argument (capacity 0 or above kMaxCapacity), no_memory.
  Result<void> init(MemoryAccount& account, u32 capacity);
  // Closes every handle and gives the storage back. From its start, nothing can be added any more (add, install,
  // reserve fail with bad_state), so nothing added meanwhile is lost with the storage. The table can be set up
  // again afterwards.
  void close_all();
  // The same, a batch at a time (at most `max` handles, up to kCloseBatch): true once the table is closed and its
  // storage given back. For teardown that lets other work run in between.
  static constexpr u32 kCloseBatch = 32;
  bool close_some(u32 max);
  bool active() const { return slots_ != nullptr; }

  // Installs a new handle to `object` (the table takes over the reference). no_resources when the table is full,
  // bad_state when it is closed or closing; then the reference is dropped (and the object destroyed if it was the
  // last).
  Result<Handle> add(Ref<KernelObject> object, Rights rights);

  // Slots held for handles that an operation will add only once its work is done and can no longer fail (a spawn
  // whose child already runs, a pair of channel ends): reserve() takes them (no_resources when fewer are free,
  // bad_state when closing), add_reserved() fills one (it cannot fail), unreserve() gives back what was not used.
  // A reservation must end in add_reserved() or unreserve() for each slot. If the table is closed meanwhile (its
  // process died), add_reserved() drops the object and returns kInvalidHandle.
  struct Reserved {
    u32 count = 0;
  };
  Result<Reserved> reserve(u32 n);
  Handle add_reserved(Reserved& r, Ref<KernelObject> object, Rights rights);
  void unreserve(Reserved& r);
  // The object behind `h`, checked: bad_handle, revoked, wrong_type (unless `type` is ObjectType::any), access_denied.
  Result<Ref<KernelObject>> get(Handle h, Rights need, ObjectType type) const;
  template <class T>
  Result<Ref<T>> get_as(Handle h, Rights need) const {
    return ref_cast<T>(PLATYPOS_TRY(get(h, need, T::kType)));
  }
  Result<HandleInfo> info(Handle h) const;
  // A second handle with `rights` (a subset of h's). Needs DUPLICATE; rights beyond h's: access_denied.
  Result<Handle> duplicate(Handle h, Rights rights);
  // A new handle with `rights` (a subset of h's) in place of h, which stops working. No right needed.
  Result<Handle> replace(Handle h, Rights rights);
  Result<void> close(Handle h);
  // Revokes the object: every other handle to it (in any table) fails with revoked from now on; h goes on working.
  // Needs MANAGE.
  Result<void> revoke(Handle h);

  // Moving handles out (a channel write), in two phases so that the write is all or nothing:
  //   check: every handle valid, not revoked, with TRANSFER, no handle twice, none in `forbidden`
  //   take: removes them (cannot fail once the check passed under the same lock hold)
  // `hs` must be kernel memory (the ring copies a program's array in first); each value is read once anyway, and the
  // second phase uses only what the first one found.
  Result<void> transfer_out(std::span<const Handle> hs, const KernelObject* forbidden_a,
                            const KernelObject* forbidden_b, Capability* out);
  // Installs capabilities (a channel read): all of them or none (no_resources when fewer slots are free). On
  // success the table owns their references and out[i] are the new handles.
  Result<void> install(std::span<Capability> caps, Handle* out);

  u32 capacity() const { return capacity_; }
  u32 count() const { return count_; }
  // Slots neither used nor reserved.
  u32 free_slots() const { return capacity_ - count_ - reserved_; }
  // Consistency (the simulator's invariant checks, tests): the used slots number count(), each holds a live object
  // (a reference count of at least one) with valid rights and a generation in range, and the free list holds
  // exactly the other slots, each once, ending at its tail. Logs what is wrong and returns false.
  bool check_invariants() const;
  // Calls f(KernelObject&) for every object the table holds (the cycle collector's roots). Lock held: f must not
  // touch the table.
  template <class F>
  void for_each_object(F&& f) const {
    IrqSpinGuard g(lock_);
    for (u32 i = 0; i < capacity_; ++i)
      if (slots_[i].object != nullptr) f(*slots_[i].object);
  }

 private:
  struct Slot {
    KernelObject* object;
    Rights rights;
    u32 epoch;
    u32 generation;
    u32 next_free;  // index + 1 of the next free slot, 0 at the end
  };
  static constexpr u32 kGenerationMask = 0x7fff;
  static Handle make_handle(u32 index, u32 generation) { return (generation << 16) | index; }

  // Checks h under the lock; returns its slot.
  Result<Slot*> lookup_locked(Handle h) const;
  Result<u32> alloc_slot_locked();
  Handle fill_slot_locked(u32 index, Ref<KernelObject> object, Rights rights);
  // Empties the slot (its object reference is returned to the caller, who releases it after unlocking).
  KernelObject* free_slot_locked(u32 index);

  mutable SpinLock lock_{"handle table"};
  Slot* slots_ = nullptr;
  u32 capacity_ = 0;
  u32 count_ = 0;
  u32 reserved_ = 0;      // free slots promised to reserve() callers
  bool closing_ = false;  // close_all() has begun: nothing may be added
  u32 close_cursor_ = 0;  // slots below it are empty for good
  u32 free_head_ = 0;     // index + 1, 0 if none
  u32 free_tail_ = 0;
  MemoryAccount* account_ = nullptr;
  usize storage_bytes_ = 0;
};

}  // namespace platypos::cap
