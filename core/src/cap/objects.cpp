// The smaller kernel object types: Event, ProcessObject, MemoryObject, LogNamespace, OpaqueRef.

#include <platypos/base/checked.hpp>
#include <platypos/base/program_copy.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/cap/log_namespace.hpp>
#include <platypos/cap/memory_object.hpp>
#include <platypos/cap/opaque_ref.hpp>
#include <platypos/cap/process_object.hpp>
#include <platypos/mm/kernel_heap.hpp>

namespace platypos::cap {

// --- Event ---------------------------------------------------------------------------------------------------------

Event::Event() : KernelObject(ObjectType::event, &destroy_event) {}

void Event::destroy_event(KernelObject* self) { free_object(static_cast<Event*>(self)); }

Result<Ref<Event>> Event::create(MemoryAccount* payer) {
  return Ref<Event>::adopt(PLATYPOS_TRY(make_object<Event>(payer)));
}

Result<void> Event::signal(u32 clear_mask, u32 set_mask) {
  if (((clear_mask | set_mask) & ~kSignalUserMask) != 0) return Error::invalid_argument;
  update_signals(clear_mask, set_mask);
  return ok();
}

// --- ProcessObject -------------------------------------------------------------------------------------------------

ProcessObject::ProcessObject(u32 pid) : KernelObject(ObjectType::process, &destroy_process), pid_(pid) {}

void ProcessObject::destroy_process(KernelObject* self) { free_object(static_cast<ProcessObject*>(self)); }

Result<Ref<ProcessObject>> ProcessObject::create(u32 pid, MemoryAccount* payer) {
  return Ref<ProcessObject>::adopt(PLATYPOS_TRY(make_object<ProcessObject>(payer, pid)));
}

void ProcessObject::mark_exited(i64 code) {
  exit_code_.store(code, std::memory_order_release);
  update_signals(0, kSignalExited);
}

// --- MemoryObject --------------------------------------------------------------------------------------------------

MemoryObject::MemoryObject(MemoryAccount& account, PhysAddr* pages, u64 count)
    : KernelObject(ObjectType::memory_object, &destroy_memory), account_(account), page_list_(pages), pages_(count) {
  account_.retain();
}

MemoryObject::~MemoryObject() {
  for (u64 i = 0; i < pages_; ++i) account_.free_pages(page_list_[i], 0);
  account_.free_bytes(page_list_, sizeof(PhysAddr) * pages_);
  account_.release();
}

void MemoryObject::destroy_memory(KernelObject* self) { free_object(static_cast<MemoryObject*>(self)); }

Result<Ref<MemoryObject>> MemoryObject::create(MemoryAccount& account, u64 bytes) {
  if (bytes == 0 || bytes > abi::kMaxMemoryObjectBytes) return Error::invalid_argument;
  const u64 count = pages_for(bytes);
  auto* list = static_cast<PhysAddr*>(PLATYPOS_TRY(account.alloc_bytes(sizeof(PhysAddr) * count)));
  for (u64 i = 0; i < count; ++i) {
    Result<PhysAddr> p = account.alloc_pages(0);
    if (p.is_error()) {
      for (u64 j = 0; j < i; ++j) account.free_pages(list[j], 0);
      account.free_bytes(list, sizeof(PhysAddr) * count);
      return p.error();
    }
    list[i] = *p;
    auto* words = account.direct_map().to_virt<u64>(*p);
    for (u64 w = 0; w < kPageSize / 8; ++w) words[w] = 0;
  }
  Result<MemoryObject*> made = make_object<MemoryObject>(&account, account, list, count);
  if (made.is_error()) {
    for (u64 j = 0; j < count; ++j) account.free_pages(list[j], 0);
    account.free_bytes(list, sizeof(PhysAddr) * count);
    return made.error();
  }
  return Ref<MemoryObject>::adopt(*made);
}

template <class F>
Result<void> MemoryObject::for_range(u64 offset, u64 len, F&& f) const {
  if (!range_within(offset, len, 0, size())) return Error::out_of_range;  // (program values: checked, no wrap)
  u64 done = 0;
  while (done < len) {
    const u64 at = offset + done;
    const u64 in_page = at & (kPageSize - 1);
    const u64 n = kPageSize - in_page < len - done ? kPageSize - in_page : len - done;
    f(account_.direct_map().to_virt<u8>(page_list_[at >> kPageShift]) + in_page, done, n);
    done += n;
  }
  return ok();
}

Result<void> MemoryObject::read(u64 offset, std::span<u8> out) const {
  return for_range(offset, out.size(),
                   [&](const u8* page, u64 pos, u64 n) { copy_program_memory(&out[pos], page, n); });
}

Result<void> MemoryObject::write(u64 offset, std::span<const u8> in) {
  return for_range(offset, in.size(), [&](u8* page, u64 pos, u64 n) { copy_program_memory(page, &in[pos], n); });
}

Result<PhysAddr> MemoryObject::page_at(u64 offset) const {
  if (offset >= size()) return Error::out_of_range;
  return page_list_[offset >> kPageShift];
}

// --- LogNamespace --------------------------------------------------------------------------------------------------

LogNamespace::LogNamespace(MemoryAccount& account, u8* ring, usize capacity, std::string_view name)
    : KernelObject(ObjectType::log_namespace, &destroy_log), account_(account), ring_(ring), capacity_(capacity) {
  account_.retain();
  for (usize i = 0; i < name.size(); ++i) name_[i] = name[i];
  name_len_ = name.size();
}

LogNamespace::~LogNamespace() {
  account_.free_bytes(ring_, capacity_);
  account_.release();
}

void LogNamespace::destroy_log(KernelObject* self) { free_object(static_cast<LogNamespace*>(self)); }

Result<Ref<LogNamespace>> LogNamespace::create(MemoryAccount& account, std::string_view name, usize capacity) {
  // The ring is one allocation from the account: at most one block of the largest order.
  static_assert(abi::kMaxLogBytes <= (kPageSize << BuddyAllocator::kMaxOrder), "a log ring must fit one block");
  if (name.empty() || name.size() > abi::kMaxLogName || capacity < abi::kMinLogBytes || capacity > abi::kMaxLogBytes) {
    return Error::invalid_argument;
  }
  auto* ring = static_cast<u8*>(PLATYPOS_TRY(account.alloc_bytes(capacity)));
  Result<LogNamespace*> made = make_object<LogNamespace>(&account, account, ring, capacity, name);
  if (made.is_error()) {
    account.free_bytes(ring, capacity);
    return made.error();
  }
  return Ref<LogNamespace>::adopt(*made);
}

// (src and dst may be program memory: base/program_copy.hpp.)
void LogNamespace::put(usize at, const u8* src, usize n) {
  at %= capacity_;
  const usize first = n < capacity_ - at ? n : capacity_ - at;
  copy_program_memory(ring_ + at, src, first);
  copy_program_memory(ring_, src + first, n - first);
}

void LogNamespace::get(usize at, u8* dst, usize n) const {
  at %= capacity_;
  const usize first = n < capacity_ - at ? n : capacity_ - at;
  copy_program_memory(dst, ring_ + at, first);
  copy_program_memory(dst + first, ring_, n - first);
}

// Records are a 2-byte little-endian length, then the bytes.
Result<void> LogNamespace::write(std::span<const u8> record) {
  if (record.empty() || record.size() > abi::kMaxLogRecord) return Error::invalid_argument;
  {
    IrqSpinGuard g(lock_);
    if (used_ + 2 + record.size() > capacity_) return Error::limit_reached;
    const u8 len[2] = {static_cast<u8>(record.size() & 0xff), static_cast<u8>(record.size() >> 8)};
    const usize tail = (head_ + used_) % capacity_;
    put(tail, len, 2);
    put((tail + 2) % capacity_, record.data(), record.size());
    used_ += 2 + record.size();
    ++written_;
  }
  update_signals(0, kSignalReadable);
  return ok();
}

Result<usize> LogNamespace::read(std::span<u8> out, usize* needed) {
  usize n = 0;
  bool empty_now = false;
  {
    IrqSpinGuard g(lock_);
    if (used_ == 0) return Error::would_block;
    u8 len[2];
    get(head_, len, 2);
    n = static_cast<usize>(len[0]) | (static_cast<usize>(len[1]) << 8);
    if (n > out.size()) {
      if (needed != nullptr) *needed = n;
      return Error::buffer_too_small;
    }
    get((head_ + 2) % capacity_, out.data(), n);
    head_ = (head_ + 2 + n) % capacity_;
    used_ -= 2 + n;
    empty_now = used_ == 0;
  }
  if (empty_now) update_signals(kSignalReadable, 0);
  return n;
}

// --- OpaqueRef -----------------------------------------------------------------------------------------------------

OpaqueRef::OpaqueRef(Ref<KernelObject> issuer, u64 cookie)
    : KernelObject(ObjectType::opaque_ref, &destroy_ref),
      issuer_(static_cast<Ref<KernelObject>&&>(issuer)),
      cookie_(cookie) {}

void OpaqueRef::destroy_ref(KernelObject* self) { free_object(static_cast<OpaqueRef*>(self)); }

Result<Ref<OpaqueRef>> OpaqueRef::create(Ref<KernelObject> issuer_key, u64 cookie, MemoryAccount* payer) {
  if (!issuer_key) return Error::invalid_argument;
  return Ref<OpaqueRef>::adopt(
      PLATYPOS_TRY(make_object<OpaqueRef>(payer, static_cast<Ref<KernelObject>&&>(issuer_key), cookie)));
}

Result<u64> OpaqueRef::resolve(const KernelObject& key) const {
  if (&key != issuer_.get()) return Error::access_denied;
  return cookie_;
}

}  // namespace platypos::cap
