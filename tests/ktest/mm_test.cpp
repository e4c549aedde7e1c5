// The allocators on the machine's real memory: the kernel's own KernelMemory (bare metal: the multiboot memory map
// of the QEMU machine; hosted: the simulated memory of the ktest binary's Machine).

#include <platypos/ktest/ktest.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/mm/reservation.hpp>

namespace platypos {
namespace {

KernelMemory& kmem() {
  KernelMemory* m = KernelMemory::instance();
  PLATYPOS_ASSERT(m != nullptr, "no KernelMemory installed");
  return *m;
}

u64 pattern(u64 phys, u64 salt) { return (phys * 0x9e3779b97f4a7c15ull) ^ salt; }

KTEST(mm, pool_and_buddy_agree_after_boot) {
  KernelMemory& m = kmem();
  KASSERT_TRUE(m.pool().check_invariants());
  KEXPECT_TRUE(m.pages().check_invariants());
  KEXPECT_EQ(m.pool().total_bytes(MemoryType::free_ram), 0u);  // all of it went to the buddy allocator
  KEXPECT_EQ(m.pool().total_bytes(MemoryType::buddy), m.handover().managed_bytes);
  KEXPECT_GT(m.handover().managed_bytes, 16 * MiB);
  // Bookkeeping: buddy state bytes and pool nodes, under 0.2% of what they manage.
  const u64 bookkeeping = m.handover().metadata_bytes + m.pool().bookkeeping_pages() * kPageSize;
  KEXPECT_LT(bookkeeping * 500, m.handover().managed_bytes);
}

KTEST(mm, buddy_blocks_are_distinct_real_memory) {
  KernelMemory& m = kmem();
  LockedBuddy& pages = m.pages();
  const u64 free_before = pages.free_pages();
  constexpr usize kBlocks = 96;
  PhysAddr got[kBlocks];
  u32 order[kBlocks];
  for (usize i = 0; i < kBlocks; ++i) {
    order[i] = static_cast<u32>(i % 5);
    auto a = pages.alloc(order[i]);
    KASSERT_OK(a);
    got[i] = *a;
    KEXPECT_TRUE(got[i].is_aligned(kPageSize << order[i]));
    // Fill every word of the block: overlapping blocks would overwrite each other's patterns.
    auto* w = m.direct_map().to_virt<volatile u64>(got[i]);
    for (u64 k = 0; k < (kPageSize << order[i]) / 8; ++k) w[k] = pattern(got[i].value() + 8 * k, i);
  }
  for (usize i = 0; i < kBlocks; ++i) {
    auto* w = m.direct_map().to_virt<volatile u64>(got[i]);
    for (u64 k = 0; k < (kPageSize << order[i]) / 8; k += 61) {
      KASSERT_EQ(w[k], pattern(got[i].value() + 8 * k, i));
    }
  }
  for (usize i = 0; i < kBlocks; ++i) KASSERT_OK(pages.free(got[i], order[i]));
  KEXPECT_EQ(pages.free_pages(), free_before);
  KEXPECT_TRUE(pages.check_invariants());
}

KTEST(mm, bad_frees_are_refused) {
  LockedBuddy& pages = kmem().pages();
  const PhysAddr a = pages.alloc(1).value();
  const u64 free_before = pages.free_pages();
  KEXPECT_EQ(pages.free(PhysAddr(a.value() + 8), 1).error(), Error::misaligned);
  KEXPECT_EQ(pages.free(a, 0).error(), Error::invalid_argument);
  KEXPECT_EQ(pages.free(PhysAddr(a.value() + kPageSize), 0).error(), Error::not_allocated);
  KEXPECT_EQ(pages.free(PhysAddr(~u64{0} & ~0xfffull), 0).error(), Error::out_of_range);
  KEXPECT_EQ(pages.free_pages(), free_before);
  KASSERT_OK(pages.free(a, 1));
  KEXPECT_EQ(pages.free(a, 1).error(), Error::not_allocated);
}

struct Node {
  u64 id;
  u64 check;
  Node* next;
};

KTEST(mm, kernel_heap_objects) {
  KernelMemory& m = kmem();
  const u64 live_before = m.heap().live_objects();
  Node* head = nullptr;
  for (u64 i = 0; i < 2000; ++i) {
    auto n = make<Node>(Node{i, ~i, head});
    KASSERT_OK(n);
    head = *n;
  }
  u64 count = 0;
  for (Node* n = head; n != nullptr; n = n->next, ++count) KASSERT_EQ(n->check, ~n->id);
  KEXPECT_EQ(count, 2000u);
  KEXPECT_EQ(m.heap().live_objects(), live_before + 2000);
  while (head != nullptr) {
    Node* next = head->next;
    KASSERT_OK(destroy(head));
    head = next;
  }
  KEXPECT_EQ(m.heap().live_objects(), live_before);
  KEXPECT_TRUE(m.heap().check_invariants());
}

KTEST(mm, reservation_all_or_nothing) {
  KernelMemory& m = kmem();
  LockedBuddy& pages = m.pages();
  const u64 free_before = pages.free_pages();
  {
    MemoryReservation r;
    KASSERT_OK(r.reserve(m.page_source(), 4 * MiB));
    KEXPECT_EQ(pages.free_pages(), free_before - r.taken_pages());
    for (u64 i = 0; i < 4 * MiB / kPageSize; ++i) {
      auto p = r.alloc(0);
      KASSERT_OK(p);
      *m.direct_map().to_virt<volatile u64>(*p) = i;
    }
    KEXPECT_EQ(r.alloc(0).error(), Error::no_memory);  // the quota, not the machine, ran out
    KEXPECT_TRUE(r.check_invariants());
  }  // released with every page still allocated inside
  KEXPECT_EQ(pages.free_pages(), free_before);
  // One page more than the machine has free: refused, and nothing stays taken.
  const u64 too_much = (free_before + 1) * kPageSize;
  MemoryReservation too_big;
  KEXPECT_EQ(too_big.reserve(m.page_source(), too_much).error(),
             too_much > MemoryReservation::kMaxBytes ? Error::invalid_argument : Error::no_memory);
  KEXPECT_EQ(pages.free_pages(), free_before);
}

}  // namespace
}  // namespace platypos
