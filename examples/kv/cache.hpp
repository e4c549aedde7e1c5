#pragma once
// kv-server's item store: memcached's design at small scale. Memory is a fixed budget of slab pages taken from the
// program's heap as they are needed and never given back (64 KiB, or one chunk for classes above that); each page is
// cut into chunks of one size class (64 bytes growing by 1.25 up to 1 MiB); each class keeps its items on an LRU list. Storing an item in a class with no
// free chunk and no page left to take evicts that class's least recently used items. A chained hash table over all
// items finds keys. Not thread-safe: one core's executor owns it.

#include <platypos/user/heap.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace platypos::examples::kv {

struct Item {
  Item* hash_next;
  Item* lru_prev;
  Item* lru_next;
  std::uint64_t cas;
  std::uint64_t expires_ns;  // 0: never (monotonic clock)
  std::uint32_t flags;
  std::uint32_t value_len;
  std::uint8_t key_len;
  std::uint8_t cls;
  char* key() { return reinterpret_cast<char*>(this + 1); }
  char* value() { return key() + key_len; }
  std::string_view key_view() { return {key(), key_len}; }
  std::string_view value_view() { return {value(), value_len}; }
};

class Cache {
 public:
  static constexpr std::size_t kPageBytes = 1024 * 1024;  // the largest chunk: an item with its key and header
  static constexpr std::size_t kSlabBytes = 64 * 1024;    // what a class of smaller chunks takes at a time
  static constexpr std::size_t kMaxClasses = 48;

  // Up to `budget` bytes of pages from `heap`. False if the hash table cannot be allocated.
  bool init(user::Heap& heap, std::uint64_t budget);

  // The live item with `key`, or nullptr (an expired one is removed on the way).
  Item* find(std::string_view key, std::uint64_t now);
  // Room for a new item (not linked yet: fill it in, then link() it, or discard() it). nullptr: too large for any
  // class (*too_large set), or no memory even after evicting its class's LRU items.
  Item* allocate(std::string_view key, std::size_t value_len, bool* too_large);
  // Links `item`, replacing (and freeing) any item with the same key; gives it a new CAS value.
  void link(Item* item);
  void discard(Item* item);
  void remove(Item* item);
  // Marks it most recently used.
  void touch(Item* item);
  // Every item stored before now is gone (flush_all).
  void flush();

  struct Stats {
    std::uint64_t items = 0;
    std::uint64_t bytes = 0;  // keys and values of live items
    std::uint64_t evictions = 0;
    std::uint64_t expired = 0;
    std::uint64_t pages = 0;
    std::uint64_t total_items = 0;
  };
  const Stats& stats() const { return stats_; }
  std::uint64_t budget() const { return budget_; }
  std::size_t max_value(std::size_t key_len) const { return kPageBytes - sizeof(Item) - key_len; }

 private:
  struct Class {
    std::size_t chunk = 0;
    void* free = nullptr;  // free chunks, linked through their first word
    Item* lru_head = nullptr;  // most recent
    Item* lru_tail = nullptr;
  };
  Item** bucket(std::string_view key);
  void lru_unlink(Item* it);
  void lru_push(Item* it);
  void unlink_hash(Item* it);
  void free_chunk(Item* it);
  bool grow(Class& c);

  // Pages of kPageBytes carved from the heap at init (so that the store never touches the heap again: other cores
  // use it while the heap's core allocates), linked through their first word; slabs are cut from split_.
  void* pages_ = nullptr;
  char* split_ = nullptr;
  std::size_t split_left_ = 0;
  std::uint64_t budget_ = 0;
  std::uint64_t taken_ = 0;
  Item** buckets_ = nullptr;
  std::size_t bucket_mask_ = 0;
  Class classes_[kMaxClasses];
  std::size_t class_count_ = 0;
  std::uint64_t next_cas_ = 1;
  Stats stats_;
};

}  // namespace platypos::examples::kv
