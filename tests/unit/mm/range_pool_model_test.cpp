// Randomized differential test of the RangePool against a page-array model: random boot maps, then random
// allocations, frees, re-tags and claims with valid and invalid arguments. The model predicts every result
// (including the exact address of each highest-fit allocation and the exact error), and after every operation the
// pool's ranges must equal the model's pages, run-length encoded.

#include <platypos/mm/range_pool.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <vector>

#include "mm/test_memory.hpp"
#include "test_support.hpp"

namespace platypos {
namespace {

constexpr u64 kPages = 4096;  // 16 MiB of address space
constexpr u64 kMinBookPage = RangePool::kBookkeepingMinAddr / kPageSize;
constexpr int kNone = -1;

struct Model {
  std::vector<int> type = std::vector<int>(kPages, kNone);  // MemoryType per page, or kNone

  static bool caller_type(MemoryType t) { return is_allocation_type(t) && t != MemoryType::pool_bookkeeping; }
  bool is(u64 p, MemoryType t) const { return type[p] == static_cast<int>(t); }

  // Maximal run [b, e) of equal type containing page p.
  void run(u64 p, u64* b, u64* e) const {
    *b = p;
    *e = p + 1;
    while (*b > 0 && type[*b - 1] == type[p]) --*b;
    while (*e < kPages && type[*e] == type[p]) ++*e;
  }

  // Highest fit of `size` bytes (page multiple) within [min_addr, max_addr], as RangePool::find_fit does.
  std::optional<u64> fit(u64 size, u64 align, u64 min_addr, u64 max_addr) const {
    for (u64 p = kPages; p > 0;) {
      --p;
      if (!is(p, MemoryType::free_ram)) continue;
      u64 b, e;
      run(p, &b, &e);
      p = b;  // next iteration continues below this run
      const u64 lo = std::max(b * kPageSize, min_addr);
      u64 hi = e * kPageSize;
      if (hi > max_addr + 1 && max_addr != ~u64{0}) hi = max_addr + 1;
      if (hi <= lo || hi - lo < size) continue;
      const u64 cand = align_down(hi - size, align);
      if (cand >= lo) return cand;
    }
    return std::nullopt;
  }

  void set(u64 base, u64 size, MemoryType t) {
    for (u64 p = base / kPageSize; p < (base + size) / kPageSize; ++p) type[p] = static_cast<int>(t);
  }

  // The pool grows its bookkeeping by one page when fewer than 4 spare nodes are left: highest free page at or above
  // 1 MiB, else the highest free page. Returns false when there is none (the operation then fails with no_memory).
  // `spare` is the pool's free_node_count() before the operation.
  bool grow_if_needed(usize spare) {
    if (spare >= 4) return true;
    auto page = fit(kPageSize, kPageSize, kMinBookPage * kPageSize, ~u64{0});
    if (!page) page = fit(kPageSize, kPageSize, 0, ~u64{0});
    if (!page) return false;
    set(*page, kPageSize, MemoryType::pool_bookkeeping);
    return true;
  }

  std::vector<MemoryRange> ranges() const {
    std::vector<MemoryRange> out;
    for (u64 p = 0; p < kPages; ++p) {
      if (type[p] == kNone) continue;
      const auto t = static_cast<MemoryType>(type[p]);
      if (!out.empty() && out.back().type == t && out.back().end() == p * kPageSize) {
        out.back().size += kPageSize;
      } else {
        out.push_back({p * kPageSize, kPageSize, t});
      }
    }
    return out;
  }
};

std::vector<MemoryRange> pool_ranges(const RangePool& pool) {
  std::vector<MemoryRange> out;
  pool.for_each([&](const MemoryRange& r) { out.push_back(r); });
  return out;
}

::testing::AssertionResult same(const std::vector<MemoryRange>& pool, const std::vector<MemoryRange>& model) {
  if (pool.size() != model.size()) {
    return ::testing::AssertionFailure() << "pool has " << pool.size() << " ranges, model " << model.size();
  }
  for (usize i = 0; i < pool.size(); ++i) {
    if (pool[i].base != model[i].base || pool[i].size != model[i].size || pool[i].type != model[i].type) {
      return ::testing::AssertionFailure()
             << "range " << i << ": pool [" << std::hex << pool[i].base << ", " << pool[i].end() << ") "
             << memory_type_name(pool[i].type) << ", model [" << model[i].base << ", " << model[i].end() << ") "
             << memory_type_name(model[i].type);
    }
  }
  return ::testing::AssertionSuccess();
}

const MemoryType kFirmware[] = {MemoryType::free_ram,     MemoryType::free_ram,         MemoryType::free_ram,
                                MemoryType::reserved,     MemoryType::acpi_reclaimable, MemoryType::boot_module,
                                MemoryType::kernel_image, MemoryType::acpi_nvs,         MemoryType::peripheral,
                                MemoryType::bad_memory};
const MemoryType kAlloc[] = {MemoryType::buddy_metadata, MemoryType::buddy,       MemoryType::page_tables,
                             MemoryType::smp_trampoline, MemoryType::kernel_data, MemoryType::allocated};

// Builds a random boot map (byte-granular, overlapping, unsorted, zero-length entries) and the model's view of it.
std::vector<MemoryRange> random_map(std::mt19937_64& rng, Model* m) {
  std::vector<MemoryRange> map;
  map.push_back({0, kPages * kPageSize - (rng() % 3) * 0x800, MemoryType::free_ram});
  const int n = 2 + static_cast<int>(rng() % 14);
  for (int i = 0; i < n; ++i) {
    const u64 base = rng() % (kPages * kPageSize);
    u64 size = rng() % 4 == 0 ? 0 : rng() % (kPages * kPageSize / 8);
    if (base + size > kPages * kPageSize) size = kPages * kPageSize - base;
    map.push_back({base, size, kFirmware[rng() % std::size(kFirmware)]});
  }
  std::shuffle(map.begin(), map.end(), rng);
  for (u64 p = 0; p < kPages; ++p) {
    int best = kNone;
    for (const MemoryRange& r : map) {
      if (r.size == 0) continue;
      u64 b, e;
      if (r.type == MemoryType::free_ram) {
        b = (r.base + kPageSize - 1) / kPageSize;
        e = (r.base + r.size) / kPageSize;
      } else {
        b = r.base / kPageSize;
        e = (r.base + r.size + kPageSize - 1) / kPageSize;
      }
      if (p >= b && p<e&& static_cast<int>(r.type)> best) best = static_cast<int>(r.type);
    }
    m->type[p] = best;
  }
  return map;
}

TEST(RangePoolDifferential, HundredThousandRandomOps) {
  test::TestMemory mem(kPages * kPageSize);
  std::mt19937_64 rng(0x5eed0002);
  u64 ops = 0, errors = 0, allocs = 0, maps = 0;
  while (ops < 100'000) {
    Model m;
    const auto boot = random_map(rng, &m);
    RangePool pool(mem.map());
    auto init = pool.init(boot);
    ++maps;
    if (init.is_error()) {
      ASSERT_EQ(init.error(), Error::no_memory);
      continue;
    }
    // Adopt the bookkeeping pages the pool chose: they must have been free RAM.
    for (const MemoryRange& r : pool_ranges(pool)) {
      if (r.type != MemoryType::pool_bookkeeping) continue;
      for (u64 p = r.base / kPageSize; p < r.end() / kPageSize; ++p) {
        ASSERT_TRUE(m.is(p, MemoryType::free_ram)) << "bookkeeping placed on non-free page " << p;
      }
      m.set(r.base, r.size, MemoryType::pool_bookkeeping);
    }
    ASSERT_TRUE(same(pool_ranges(pool), m.ranges())) << "after init of map " << maps;
    ASSERT_TRUE(pool.check_invariants());

    for (int step = 0; step < 2000 && ops < 100'000; ++step, ++ops) {
      const u64 op = rng() % 4;
      const usize spare = pool.free_node_count();
      const u64 base = rng() % 8 == 0 ? rng() % (kPages * kPageSize) : (rng() % kPages) * kPageSize;
      const u64 size = rng() % 16 == 0 ? rng() % 8192 : (1 + rng() % 48) * kPageSize;
      if (op == 0) {
        // allocate
        const MemoryType t = rng() % 20 == 0 ? MemoryType::reserved : kAlloc[rng() % std::size(kAlloc)];
        const u64 align = rng() % 10 == 0 ? 3 * kPageSize : kPageSize << (rng() % 5);
        const u64 max_addr = rng() % 3 == 0 ? rng() % (kPages * kPageSize) : ~u64{0};
        const u64 min_addr = rng() % 3 == 0 ? rng() % (kPages * kPageSize) : 0;
        auto r = pool.allocate(t, size, align, max_addr, min_addr);
        Error expected = Error::none;
        std::optional<u64> at;
        if (size == 0 || !Model::caller_type(t) || min_addr > max_addr || !is_power_of_two(align)) {
          expected = Error::invalid_argument;
        } else if (!m.grow_if_needed(spare)) {
          expected = Error::no_memory;
        } else {
          at = m.fit((size + kPageSize - 1) & ~(kPageSize - 1), std::max(align, kPageSize), min_addr, max_addr);
          if (!at) expected = Error::no_memory;
        }
        if (expected != Error::none) {
          ASSERT_TRUE(r.is_error()) << "op " << ops;
          ASSERT_EQ(r.error(), expected) << "op " << ops;
          ++errors;
        } else {
          ASSERT_TRUE(r.has_value()) << "op " << ops << ": " << error_name(r.error());
          ASSERT_EQ(r->value(), *at) << "op " << ops;
          m.set(*at, (size + kPageSize - 1) & ~(kPageSize - 1), t);
          ++allocs;
        }
      } else {
        // free, retag or allocate_at: same validation of [base, base + size).
        const MemoryType to = op == 2 ? (rng() % 3 == 0 ? MemoryType::free_ram : kAlloc[rng() % std::size(kAlloc)])
                                      : kAlloc[rng() % std::size(kAlloc)];
        Result<void> r = op == 1   ? pool.free(PhysAddr(base), size)
                         : op == 2 ? pool.retag(PhysAddr(base), size, to)
                                   : pool.allocate_at(PhysAddr(base), size, to);
        Error expected = Error::none;
        const u64 page = base / kPageSize;
        u64 b = 0, e = 0;
        if (op == 2 && !Model::caller_type(to) && to != MemoryType::free_ram) {
          expected = Error::invalid_argument;
        } else if (base % kPageSize != 0) {
          expected = Error::misaligned;
        } else if (size == 0 || size % kPageSize != 0) {
          expected = Error::invalid_argument;
        } else if (!m.grow_if_needed(spare)) {
          expected = Error::no_memory;  // growth comes before the range is looked up
        } else if (m.type[page] == kNone || (m.run(page, &b, &e), base + size > e * kPageSize)) {
          expected = Error::out_of_range;
        } else {
          const auto from = static_cast<MemoryType>(m.type[page]);
          if (op == 1) {
            if (from == MemoryType::free_ram) {
              expected = Error::not_allocated;
            } else if (!is_allocation_type(from) || from == MemoryType::pool_bookkeeping) {
              expected = Error::access_denied;
            }
          } else if (op == 2) {
            const bool reclaimable = from == MemoryType::acpi_reclaimable || from == MemoryType::boot_module ||
                                     from == MemoryType::kernel_image;
            if (from == MemoryType::pool_bookkeeping ||
                (!is_allocation_type(from) && from != MemoryType::free_ram && !reclaimable)) {
              expected = Error::access_denied;
            }
          } else if (from != MemoryType::free_ram) {
            expected = Error::out_of_range;
          }
          if (expected == Error::none) m.set(base, size, op == 1 ? MemoryType::free_ram : to);
        }
        if (expected != Error::none) {
          ASSERT_TRUE(r.is_error()) << "op " << ops << " kind " << op;
          ASSERT_EQ(r.error(), expected) << "op " << ops << " kind " << op;
          ++errors;
        } else {
          ASSERT_TRUE(r.has_value()) << "op " << ops << " kind " << op << ": " << error_name(r.error());
        }
      }
      ASSERT_TRUE(same(pool_ranges(pool), m.ranges())) << "after op " << ops;
      if (ops % 997 == 0) {
        ASSERT_TRUE(pool.check_invariants()) << "after op " << ops;
      }
    }
    ASSERT_TRUE(pool.check_invariants());
  }
  EXPECT_GT(allocs, 5'000u);
  EXPECT_GT(errors, 10'000u);
  EXPECT_GT(maps, 20u);
}

}  // namespace
}  // namespace platypos
