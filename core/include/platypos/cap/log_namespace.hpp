#pragma once
// LogNamespace: a named stream of log records, the seed's log-shipping example as a capability. A log daemon creates
// one per application and keeps a READ handle; the application gets a WRITE-only handle (duplicate with fewer
// rights) and cannot read anyone's logs, nor write to another namespace. Records are up to kMaxRecord bytes, kept in
// a ring of capacity bytes paid from the daemon's memory; a full ring refuses records (limit_reached) until the
// daemon drains it. READABLE while records are queued.

#include <platypos/abi/limits.hpp>
#include <platypos/cap/object.hpp>
#include <platypos/mm/memory_account.hpp>

#include <span>
#include <string_view>

namespace platypos::cap {

class LogNamespace final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::log_namespace;
  // A namespace called `name` (1..abi::kMaxLogName bytes) with a ring of `capacity` bytes (abi::kMinLogBytes to
  // abi::kMaxLogBytes) from `account`, which pays for the object too. invalid_argument, no_memory.
  static Result<Ref<LogNamespace>> create(MemoryAccount& account, std::string_view name, usize capacity);

  // Appends one record (1..abi::kMaxLogRecord bytes). invalid_argument (size), limit_reached (the ring is full).
  Result<void> write(std::span<const u8> record);
  // Takes the oldest record. would_block (none), buffer_too_small (*needed set; the record stays).
  Result<usize> read(std::span<u8> out, usize* needed = nullptr);
  std::string_view name() const { return {name_, name_len_}; }
  u64 records_written() const { return written_; }

  LogNamespace(MemoryAccount& account, u8* ring, usize capacity, std::string_view name);
  ~LogNamespace();

 private:
  static void destroy_log(KernelObject* self);
  void put(usize at, const u8* src, usize n);
  void get(usize at, u8* dst, usize n) const;

  MemoryAccount& account_;
  u8* ring_;
  usize capacity_;
  usize head_ = 0;  // oldest byte
  usize used_ = 0;
  u64 written_ = 0;
  char name_[abi::kMaxLogName] = {};
  usize name_len_ = 0;
};

}  // namespace platypos::cap
