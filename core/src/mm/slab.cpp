#include <platypos/base/print.hpp>
#include <platypos/mm/slab.hpp>

namespace platypos {
namespace {
constexpr usize kMinObjectsPerSlab = 8;
constexpr usize align_up(usize v, usize a) { return (v + a - 1) & ~(a - 1); }
}  // namespace

SlabCache::SlabCache(const char* name, usize object_size, usize align, PageSource source)
    : name_(name), source_(source) {
  PLATYPOS_ASSERT(source.valid(), "slab cache '{}' without a page source", name);
  PLATYPOS_ASSERT(object_size > 0 && object_size <= kMaxObjectSize, "slab cache '{}': object size {} not in 1..{}",
                  name, object_size, kMaxObjectSize);
  PLATYPOS_ASSERT(align > 0 && is_power_of_two(align) && align <= kPageSize, "slab cache '{}': alignment {}", name,
                  align);
  // A free slot holds the free-list link.
  if (align < alignof(void*)) align = alignof(void*);
  slot_size_ = align_up(object_size < sizeof(void*) ? sizeof(void*) : object_size, align);
  for (u32 order = 0; order <= kMaxSlabOrder; ++order) {
    const usize bytes = kPageSize << order;
    // Upper bound on slots ignoring the header, then shrink until header + bitmap + slots fit.
    usize n = bytes / slot_size_;
    while (n > 0) {
      const usize words = (n + 63) / 64;
      const usize first = align_up(sizeof(Slab) + words * sizeof(u64), align);
      if (first + n * slot_size_ <= bytes) {
        bitmap_words_ = words;
        first_offset_ = first;
        break;
      }
      --n;
    }
    if (n >= kMinObjectsPerSlab || order == kMaxSlabOrder) {
      PLATYPOS_ASSERT(n > 0, "slab cache '{}': no slot fits", name);
      stats_.slab_order = order;
      stats_.objects_per_slab = n;
      slab_bytes_ = bytes;
      break;
    }
  }
  stats_.object_size = object_size;
  stats_.slot_size = slot_size_;
}

SlabCache::~SlabCache() {
  PLATYPOS_ASSERT(stats_.live_objects == 0, "slab cache '{}' destroyed with {} live objects", name_,
                  stats_.live_objects);
  reclaim();
}

Result<SlabCache::Slab*> SlabCache::grow() {
  const PhysAddr block = PLATYPOS_TRY(source_.alloc(stats_.slab_order));
  auto* s = source_.direct_map().to_virt<Slab>(block);
  new (s) Slab();
  s->magic = kMagic;
  s->cache = this;
  s->live = 0;
  for (usize w = 0; w < bitmap_words_; ++w) bitmap(s)[w] = 0;
  // Thread the free list in address order (slot 0 first).
  void* next = nullptr;
  for (usize i = stats_.objects_per_slab; i > 0; --i) {
    char* p = slot(s, i - 1);
    *reinterpret_cast<void**>(p) = next;
    next = p;
  }
  s->free_list = next;
  ++stats_.slabs;
  return s;
}

void SlabCache::release(Slab* s) {
  s->magic = 0;
  const PhysAddr block = source_.direct_map().to_phys(s);
  s->~Slab();
  source_.free(block, stats_.slab_order).expect("slab page went back to a source that did not give it");
  --stats_.slabs;
}

Result<void*> SlabCache::alloc() {
  Slab* s = partial_.front();
  if (s == nullptr) {
    s = empty_.pop_front();
    if (s != nullptr) {
      --stats_.empty_slabs;
    } else {
      s = PLATYPOS_TRY(grow());
    }
    partial_.push_front(*s);
    ++stats_.partial_slabs;
  }
  void* p = s->free_list;
  s->free_list = *static_cast<void**>(p);
  set_bit(s, (static_cast<char*>(p) - slot(s, 0)) / slot_size_, true);
  if (++s->live == stats_.objects_per_slab) {
    partial_.remove(*s);
    full_.push_front(*s);
    --stats_.partial_slabs;
    ++stats_.full_slabs;
  }
  ++stats_.live_objects;
  ++stats_.allocs;
  return p;
}

SlabCache::Slab* SlabCache::slab_of(const void* p) const {
  const DirectMap& map = source_.direct_map();
  const u64 phys = map.to_phys(p).value();
  return map.to_virt<Slab>(PhysAddr(phys & ~(u64{slab_bytes_} - 1)));
}

Result<SlabCache::Slab*> SlabCache::validate(const void* p) const {
  if (p == nullptr) return Error::invalid_argument;
  Slab* s = slab_of(p);
  if (s->magic != kMagic || s->cache != this) return Error::invalid_argument;
  const auto off = static_cast<usize>(static_cast<const char*>(p) - reinterpret_cast<const char*>(s));
  if (off < first_offset_) return Error::invalid_argument;
  if ((off - first_offset_) % slot_size_ != 0) return Error::misaligned;
  const usize i = (off - first_offset_) / slot_size_;
  if (i >= stats_.objects_per_slab) return Error::invalid_argument;
  if (!bit(s, i)) return Error::not_allocated;
  return s;
}

Result<void> SlabCache::check_live(const void* p) const {
  PLATYPOS_TRY(validate(p));
  return ok();
}

Result<void> SlabCache::free(void* p) {
  Slab* s = PLATYPOS_TRY(validate(p));
  set_bit(s, (static_cast<char*>(p) - slot(s, 0)) / slot_size_, false);
  *static_cast<void**>(p) = s->free_list;
  s->free_list = p;
  if (s->live-- == stats_.objects_per_slab) {
    full_.remove(*s);
    partial_.push_front(*s);
    --stats_.full_slabs;
    ++stats_.partial_slabs;
  }
  if (s->live == 0) {
    partial_.remove(*s);
    --stats_.partial_slabs;
    // Keep one empty slab to absorb alloc/free churn at a slab boundary; return the rest.
    if (empty_.empty()) {
      empty_.push_front(*s);
      ++stats_.empty_slabs;
    } else {
      release(s);
    }
  }
  --stats_.live_objects;
  ++stats_.frees;
  return ok();
}

usize SlabCache::reclaim() {
  usize n = 0;
  while (Slab* s = empty_.pop_front()) {
    --stats_.empty_slabs;
    release(s);
    ++n;
  }
  return n;
}

bool SlabCache::check_invariants() const {
  auto fail = [this](const char* what, u64 a, u64 b) {
    print("SlabCache '{}' invariant violated: {} ({}, {})\n", name_, what, a, b);
    return false;
  };
  u64 live = 0;
  auto check_list = [&](const SlabList& list, u64 expected, int kind) -> bool {
    if (list.size() != expected) return fail("list size mismatch", list.size(), expected);
    for (const Slab& cs : list) {
      auto& s = const_cast<Slab&>(cs);
      if (s.magic != kMagic || s.cache != this) return fail("foreign slab on a list", kind, 0);
      usize bits = 0;
      for (usize i = 0; i < stats_.objects_per_slab; ++i) bits += bit(&s, i) ? 1 : 0;
      if (bits != s.live) return fail("live count differs from bitmap", bits, s.live);
      usize free_count = 0;
      for (void* f = s.free_list; f != nullptr; f = *static_cast<void**>(f)) {
        const auto off = static_cast<usize>(static_cast<char*>(f) - slot(&s, 0));
        if (off % slot_size_ != 0 || off / slot_size_ >= stats_.objects_per_slab) {
          return fail("free list points outside the slots", off, 0);
        }
        if (bit(&s, off / slot_size_)) return fail("live slot on the free list", off / slot_size_, 0);
        if (++free_count > stats_.objects_per_slab) return fail("free list cycle", free_count, 0);
      }
      if (free_count + s.live != stats_.objects_per_slab) return fail("slots lost", free_count, s.live);
      if (kind == 0 && (s.live == 0 || s.live == stats_.objects_per_slab)) return fail("bad partial slab", s.live, 0);
      if (kind == 1 && s.live != stats_.objects_per_slab) return fail("full slab not full", s.live, 0);
      if (kind == 2 && s.live != 0) return fail("empty slab not empty", s.live, 0);
      live += s.live;
    }
    return true;
  };
  if (!check_list(partial_, stats_.partial_slabs, 0) || !check_list(full_, stats_.full_slabs, 1) ||
      !check_list(empty_, stats_.empty_slabs, 2)) {
    return false;
  }
  if (live != stats_.live_objects) return fail("live objects mismatch", live, stats_.live_objects);
  if (stats_.partial_slabs + stats_.full_slabs + stats_.empty_slabs != stats_.slabs) {
    return fail("slab count mismatch", stats_.slabs, 0);
  }
  return true;
}

}  // namespace platypos
