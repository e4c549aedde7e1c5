#include "cache.hpp"

namespace platypos::examples::kv {
namespace {
std::uint64_t hash_of(std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}
}  // namespace

bool Cache::init(user::Heap& heap, std::uint64_t budget) {
  budget_ = budget;
  // About one bucket per 512 bytes of budget, a power of two between 1 Ki and 1 Mi.
  std::size_t buckets = 1024;
  while (buckets < (1u << 20) && buckets * 512 < budget) buckets *= 2;
  buckets_ = static_cast<Item**>(heap.alloc(buckets * sizeof(Item*)));
  if (buckets_ == nullptr) return false;
  for (std::size_t i = 0; i < buckets; ++i) buckets_[i] = nullptr;
  bucket_mask_ = buckets - 1;
  std::size_t size = 64;
  while (class_count_ < kMaxClasses - 1 && size < kPageBytes / 2) {
    classes_[class_count_++].chunk = size;
    size = (size * 5 / 4 + 15) & ~std::size_t{15};
  }
  classes_[class_count_++].chunk = kPageBytes;
  // Every page the budget allows, now: what the heap cannot give, the store does without (a smaller budget).
  std::uint64_t carved = 0;
  while (carved + kPageBytes <= budget_) {
    void* page = heap.alloc(kPageBytes);
    if (page == nullptr) break;
    *static_cast<void**>(page) = pages_;
    pages_ = page;
    carved += kPageBytes;
  }
  budget_ = carved;
  return carved > 0;
}

Item** Cache::bucket(std::string_view key) { return &buckets_[hash_of(key) & bucket_mask_]; }

void Cache::lru_unlink(Item* it) {
  Class& c = classes_[it->cls];
  if (it->lru_prev != nullptr) it->lru_prev->lru_next = it->lru_next; else c.lru_head = it->lru_next;
  if (it->lru_next != nullptr) it->lru_next->lru_prev = it->lru_prev; else c.lru_tail = it->lru_prev;
  it->lru_prev = it->lru_next = nullptr;
}

void Cache::lru_push(Item* it) {
  Class& c = classes_[it->cls];
  it->lru_prev = nullptr;
  it->lru_next = c.lru_head;
  if (c.lru_head != nullptr) c.lru_head->lru_prev = it; else c.lru_tail = it;
  c.lru_head = it;
}

void Cache::unlink_hash(Item* it) {
  for (Item** p = bucket(it->key_view()); *p != nullptr; p = &(*p)->hash_next) {
    if (*p == it) {
      *p = it->hash_next;
      return;
    }
  }
}

void Cache::free_chunk(Item* it) {
  Class& c = classes_[it->cls];
  *reinterpret_cast<void**>(it) = c.free;
  c.free = it;
}

bool Cache::grow(Class& c) {
  // Small chunks come in kSlabBytes slabs cut from a page; larger ones get a page of their own.
  const bool small = c.chunk <= kSlabBytes;
  char* page = nullptr;
  std::size_t bytes = 0;
  if (small && split_left_ >= kSlabBytes) {
    page = split_;
    split_ += kSlabBytes;
    split_left_ -= kSlabBytes;
    bytes = kSlabBytes;
  } else {
    if (pages_ == nullptr) return false;
    page = static_cast<char*>(pages_);
    pages_ = *static_cast<void**>(pages_);
    bytes = kPageBytes;
    if (small) {
      split_ = page + kSlabBytes;
      split_left_ = kPageBytes - kSlabBytes;
      bytes = kSlabBytes;
    }
  }
  taken_ += bytes;
  ++stats_.pages;
  for (std::size_t off = 0; off + c.chunk <= bytes; off += c.chunk) {
    *reinterpret_cast<void**>(page + off) = c.free;
    c.free = page + off;
  }
  return true;
}

Item* Cache::find(std::string_view key, std::uint64_t now) {
  for (Item* it = *bucket(key); it != nullptr; it = it->hash_next) {
    if (it->key_view() != key) continue;
    if (it->expires_ns != 0 && now >= it->expires_ns) {
      ++stats_.expired;
      remove(it);
      return nullptr;
    }
    return it;
  }
  return nullptr;
}

Item* Cache::allocate(std::string_view key, std::size_t value_len, bool* too_large) {
  *too_large = false;
  const std::size_t need = sizeof(Item) + key.size() + value_len;
  std::size_t cls = 0;
  while (cls < class_count_ && classes_[cls].chunk < need) ++cls;
  if (cls == class_count_) {
    *too_large = true;
    return nullptr;
  }
  Class& c = classes_[cls];
  while (c.free == nullptr && !grow(c)) {
    Item* victim = c.lru_tail;  // memory is used up: the class's least recently used item goes
    if (victim == nullptr) return nullptr;
    ++stats_.evictions;
    remove(victim);
  }
  auto* it = static_cast<Item*>(c.free);
  c.free = *static_cast<void**>(c.free);
  it->hash_next = it->lru_prev = it->lru_next = nullptr;
  it->cas = 0;
  it->expires_ns = 0;
  it->flags = 0;
  it->value_len = static_cast<std::uint32_t>(value_len);
  it->key_len = static_cast<std::uint8_t>(key.size());
  it->cls = static_cast<std::uint8_t>(cls);
  __builtin_memcpy(it->key(), key.data(), key.size());
  return it;
}

void Cache::link(Item* item) {
  Item** b = bucket(item->key_view());
  for (Item* it = *b; it != nullptr; it = it->hash_next) {
    if (it->key_view() == item->key_view()) {
      remove(it);
      break;
    }
  }
  b = bucket(item->key_view());
  item->hash_next = *b;
  *b = item;
  item->cas = next_cas_++;
  lru_push(item);
  ++stats_.items;
  ++stats_.total_items;
  stats_.bytes += item->key_len + item->value_len;
}

void Cache::discard(Item* item) { free_chunk(item); }

void Cache::remove(Item* item) {
  unlink_hash(item);
  lru_unlink(item);
  --stats_.items;
  stats_.bytes -= item->key_len + item->value_len;
  free_chunk(item);
}

void Cache::touch(Item* item) {
  lru_unlink(item);
  lru_push(item);
}

void Cache::flush() {
  for (std::size_t i = 0; i < class_count_; ++i) {
    while (Item* it = classes_[i].lru_head) remove(it);
  }
}

}  // namespace platypos::examples::kv
