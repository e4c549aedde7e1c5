#include <platypos/base/log.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/trace/trace.hpp>

namespace platypos::cap {

HandleTable::~HandleTable() { close_all(); }

Result<void> HandleTable::init(MemoryAccount& account, u32 capacity) {
  if (active()) return Error::bad_state;
  if (capacity == 0 || capacity > kMaxCapacity) return Error::invalid_argument;
  const usize bytes = sizeof(Slot) * capacity;
  void* storage = PLATYPOS_TRY(account.alloc_bytes(bytes));
  account.retain();
  IrqSpinGuard g(lock_);
  account_ = &account;
  storage_bytes_ = bytes;
  slots_ = static_cast<Slot*>(storage);
  capacity_ = capacity;
  count_ = 0;
  reserved_ = 0;
  closing_ = false;
  close_cursor_ = 0;
  for (u32 i = 0; i < capacity; ++i) slots_[i] = Slot{nullptr, Rights::none, 0, 1, i + 2 <= capacity ? i + 2 : 0};
  free_head_ = 1;
  free_tail_ = capacity;
  return ok();
}

void HandleTable::close_all() {
  while (!close_some(kCloseBatch)) {
  }
}

bool HandleTable::close_some(u32 max) {
  KernelObject* batch[kCloseBatch];
  if (max == 0 || max > kCloseBatch) max = kCloseBatch;
  usize n = 0;
  {
    IrqSpinGuard g(lock_);
    if (!active()) return true;
    // From the first call on, add(), install(), reserve(), duplicate() and replace() refuse: whatever is in the table
    // now is all there will be, so the calls below empty it for good (a handle added meanwhile would be lost with the
    // storage).
    closing_ = true;
    // Empty slots under the lock, release the objects after: a release can destroy an object, and destroying a
    // channel endpoint, say, takes the channel's lock. (Slots behind the cursor stay empty: nothing is added.)
    for (; close_cursor_ < capacity_ && n < max; ++close_cursor_)
      if (slots_[close_cursor_].object != nullptr) batch[n++] = free_slot_locked(close_cursor_);
  }
  for (usize i = 0; i < n; ++i) batch[i]->release();
  if (n > 0) return false;
  MemoryAccount* account = nullptr;
  void* storage = nullptr;
  {
    IrqSpinGuard g(lock_);
    if (!active()) return true;  // another caller finished it
    PLATYPOS_ASSERT(count_ == 0, "handle table closed with {} handles left", count_);
    account = account_;
    storage = slots_;
    reserved_ = 0;  // an operation still holding some finds the table inactive and drops what it would have added
    slots_ = nullptr;
    capacity_ = 0;
    count_ = 0;
    free_head_ = free_tail_ = 0;
    account_ = nullptr;
    closing_ = false;
    close_cursor_ = 0;
  }
  account->free_bytes(storage, storage_bytes_);
  account->release();
  return true;
}

Result<HandleTable::Slot*> HandleTable::lookup_locked(Handle h) const {
  const u32 index = h & 0xffff;
  const u32 generation = h >> 16;
  if (h == kInvalidHandle || index >= capacity_ || generation == 0 || generation > kGenerationMask) {
    return Error::bad_handle;
  }
  Slot& s = slots_[index];
  if (s.object == nullptr || s.generation != generation) return Error::bad_handle;
  return &s;
}

Result<u32> HandleTable::alloc_slot_locked() {
  // Every way into a slot (add, install, duplicate, replace) comes here: once close_all() began, a new slot could
  // sit behind its cursor and outlive the table.
  if (closing_) return Error::bad_state;
  if (free_head_ == 0 || capacity_ - count_ <= reserved_) return Error::no_resources;
  const u32 index = free_head_ - 1;
  free_head_ = slots_[index].next_free;
  if (free_head_ == 0) free_tail_ = 0;
  ++count_;
  return index;
}

KernelObject* HandleTable::free_slot_locked(u32 index) {
  Slot& s = slots_[index];
  KernelObject* o = s.object;
  s.object = nullptr;
  s.rights = Rights::none;
  s.generation = s.generation == kGenerationMask ? 1 : s.generation + 1;
  s.next_free = 0;
  // FIFO: the slot goes to the back, so its next handle value comes as late as possible.
  if (free_tail_ == 0) {
    free_head_ = free_tail_ = index + 1;
  } else {
    slots_[free_tail_ - 1].next_free = index + 1;
    free_tail_ = index + 1;
  }
  --count_;
  return o;
}

bool HandleTable::check_invariants() const {
  IrqSpinGuard g(lock_);
  if (!active()) return count_ == 0 && free_head_ == 0 && free_tail_ == 0;
  u32 used = 0;
  for (u32 i = 0; i < capacity_; ++i) {
    const Slot& s = slots_[i];
    if (s.generation == 0 || s.generation > kGenerationMask) {
      log_error("handle table: slot {} has generation {}", i, s.generation);
      return false;
    }
    if (s.object == nullptr) continue;
    ++used;
    if (s.object->ref_count() == 0 || !valid_rights(s.rights)) {
      log_error("handle table: slot {} holds an object with {} references, rights {:#x}", i, s.object->ref_count(),
                static_cast<u32>(s.rights));
      return false;
    }
  }
  if (used != count_ || reserved_ > capacity_ - count_) {
    log_error("handle table: {} slots in use, count says {}; {} reserved", used, count_, reserved_);
    return false;
  }
  // The free list: only empty slots, no slot twice (at most capacity - count steps), ending at the tail.
  u32 walked = 0, last = 0;
  for (u32 at = free_head_; at != 0; at = slots_[at - 1].next_free) {
    if (at > capacity_ || slots_[at - 1].object != nullptr || ++walked > capacity_ - count_) {
      log_error("handle table: free list broken at slot {} (after {} entries)", at - 1, walked);
      return false;
    }
    last = at;
  }
  if (walked != capacity_ - count_ || last != free_tail_) {
    log_error("handle table: free list has {} entries ending at {}, expected {} ending at {}", walked, last,
              capacity_ - count_, free_tail_);
    return false;
  }
  return true;
}

Handle HandleTable::fill_slot_locked(u32 index, Ref<KernelObject> object, Rights rights) {
  Slot& s = slots_[index];
  s.epoch = object->epoch();
  s.rights = rights;
  s.object = object.leak();
  const Handle h = make_handle(index, s.generation);
  PLATYPOS_TRACE(cap_create, h, static_cast<u64>(s.object->type()), s.object->koid(), static_cast<u64>(rights));
  return h;
}

Result<Handle> HandleTable::add(Ref<KernelObject> object, Rights rights) {
  if (!valid_rights(rights)) return Error::invalid_argument;
  IrqSpinGuard g(lock_);
  if (!active() || closing_) return Error::bad_state;
  const u32 index = PLATYPOS_TRY(alloc_slot_locked());
  return fill_slot_locked(index, static_cast<Ref<KernelObject>&&>(object), rights);
}

Result<HandleTable::Reserved> HandleTable::reserve(u32 n) {
  IrqSpinGuard g(lock_);
  if (!active() || closing_) return Error::bad_state;
  if (n > capacity_ - count_ - reserved_) return Error::no_resources;
  reserved_ += n;
  return Reserved{n};
}

Handle HandleTable::add_reserved(Reserved& r, Ref<KernelObject> object, Rights rights) {
  PLATYPOS_ASSERT(r.count > 0 && valid_rights(rights), "add_reserved without a reserved slot");
  {
    IrqSpinGuard g(lock_);
    --r.count;
    if (active() && !closing_) {
      PLATYPOS_ASSERT(reserved_ > 0, "handle table: reservation lost");
      --reserved_;
      const u32 index = alloc_slot_locked().value();
      return fill_slot_locked(index, static_cast<Ref<KernelObject>&&>(object), rights);
    }
    // The table is being closed (its process is gone): the object is dropped like every other handle of it.
    if (active() && reserved_ > 0) --reserved_;
  }
  object.reset();
  return kInvalidHandle;
}

void HandleTable::unreserve(Reserved& r) {
  IrqSpinGuard g(lock_);
  if (active()) reserved_ -= r.count <= reserved_ ? r.count : reserved_;
  r.count = 0;
}

Result<Ref<KernelObject>> HandleTable::get(Handle h, Rights need, ObjectType type) const {
  IrqSpinGuard g(lock_);
  Slot* s = PLATYPOS_TRY(lookup_locked(h));
  if (s->epoch != s->object->epoch()) return Error::revoked;
  if (type != ObjectType::any && s->object->type() != type) return Error::wrong_type;
  if (!has_rights(s->rights, need)) {
    PLATYPOS_TRACE(cap_denied, h, static_cast<u64>(s->rights), static_cast<u64>(need));
    return Error::access_denied;
  }
  return Ref<KernelObject>::retain(s->object);
}

Result<HandleInfo> HandleTable::info(Handle h) const {
  IrqSpinGuard g(lock_);
  const Slot* s = PLATYPOS_TRY(lookup_locked(h));
  return HandleInfo{s->object->type(), s->rights, s->object->koid()};
}

Result<Handle> HandleTable::duplicate(Handle h, Rights rights) {
  if (!valid_rights(rights)) return Error::invalid_argument;
  IrqSpinGuard g(lock_);
  Slot* s = PLATYPOS_TRY(lookup_locked(h));
  if (s->epoch != s->object->epoch()) return Error::revoked;
  if (!has_rights(s->rights, Rights::duplicate)) return Error::access_denied;
  if (!has_rights(s->rights, rights)) return Error::access_denied;  // rights only shrink
  const u32 index = PLATYPOS_TRY(alloc_slot_locked());
  Slot& d = slots_[index];
  s = &slots_[h & 0xffff];
  s->object->retain();
  d.object = s->object;
  d.rights = rights;
  d.epoch = s->epoch;
  return make_handle(index, d.generation);
}

Result<Handle> HandleTable::replace(Handle h, Rights rights) {
  if (!valid_rights(rights)) return Error::invalid_argument;
  IrqSpinGuard g(lock_);
  Slot* s = PLATYPOS_TRY(lookup_locked(h));
  if (s->epoch != s->object->epoch()) return Error::revoked;
  if (!has_rights(s->rights, rights)) return Error::access_denied;
  // New slot first: if the table is full, nothing changes.
  const u32 index = PLATYPOS_TRY(alloc_slot_locked());
  s = &slots_[h & 0xffff];
  Slot& d = slots_[index];
  d.rights = rights;
  d.epoch = s->epoch;
  d.object = s->object;                // the reference moves to the new slot:
  (void)free_slot_locked(h & 0xffff);  // nothing to release here
  return make_handle(index, d.generation);
}

Result<void> HandleTable::close(Handle h) {
  KernelObject* o = nullptr;
  {
    IrqSpinGuard g(lock_);
    PLATYPOS_TRY(lookup_locked(h));
    o = free_slot_locked(h & 0xffff);
  }
  PLATYPOS_TRACE(cap_close, h, o->koid());
  o->release();
  return ok();
}

Result<void> HandleTable::revoke(Handle h) {
  IrqSpinGuard g(lock_);
  Slot* s = PLATYPOS_TRY(lookup_locked(h));
  if (s->epoch != s->object->epoch()) return Error::revoked;
  if (!has_rights(s->rights, Rights::manage)) return Error::access_denied;
  s->epoch = s->object->revoke();
  return ok();
}

Result<void> HandleTable::transfer_out(std::span<const Handle> hs, const KernelObject* forbidden_a,
                                       const KernelObject* forbidden_b, Capability* out) {
  // Each value is read once, into `index`; the second phase takes exactly the slots the first one checked.
  u32 index[kMaxTransfer];
  if (hs.size() > kMaxTransfer) return Error::invalid_argument;
  IrqSpinGuard g(lock_);
  for (usize i = 0; i < hs.size(); ++i) {
    const Handle h = hs[i];
    Slot* s = PLATYPOS_TRY(lookup_locked(h));
    if (s->epoch != s->object->epoch()) return Error::revoked;
    if (!has_rights(s->rights, Rights::transfer)) return Error::access_denied;
    if (s->object == forbidden_a || s->object == forbidden_b) return Error::invalid_argument;
    index[i] = static_cast<u32>(s - slots_);
    for (usize j = 0; j < i; ++j)
      if (index[j] == index[i]) return Error::invalid_argument;
  }
  for (usize i = 0; i < hs.size(); ++i) {
    Slot& s = slots_[index[i]];
    out[i] = Capability{nullptr, s.rights, s.epoch};
    out[i].object = free_slot_locked(index[i]);  // the reference moves into the capability
  }
  return ok();
}

Result<void> HandleTable::install(std::span<Capability> caps, Handle* out) {
  IrqSpinGuard g(lock_);
  if (!active() || closing_) return Error::bad_state;
  if (caps.size() > free_slots()) return Error::no_resources;
  for (usize i = 0; i < caps.size(); ++i) {
    const u32 index = alloc_slot_locked().value();
    Slot& s = slots_[index];
    s.object = caps[i].object;
    s.rights = caps[i].rights;
    s.epoch = caps[i].epoch;
    caps[i].object = nullptr;  // the table owns the reference now
    out[i] = make_handle(index, s.generation);
  }
  return ok();
}

}  // namespace platypos::cap
