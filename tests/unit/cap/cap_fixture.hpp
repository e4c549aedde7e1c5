#pragma once
// A kernel's memory for capability tests: KernelMemory over host test memory, and process-like capability domains
// (a MemoryAccount and a HandleTable each).

#include <platypos/cap/handle_table.hpp>
#include <platypos/mm/kernel_memory.hpp>

#include <memory>
#include <vector>

#include "mm/test_memory.hpp"

namespace platypos::cap::test {

struct Kernel {
  explicit Kernel(u64 bytes = 128 * MiB) : mem(bytes), kmem(mem.map()) {
    const MemoryRange map[] = {{0x100000, bytes - 0x100000, MemoryType::free_ram}};
    kmem.init(map).expect("test kernel memory");
  }
  // Free pages once every empty slab has gone back: compare at the start and the end of a test.
  u64 settled_free_pages() {
    kmem.heap().reclaim();
    return kmem.pages().free_pages();
  }
  platypos::test::TestMemory mem;
  KernelMemory kmem;
};

// What a process holds: its memory and its handles.
struct Domain {
  Domain(Kernel& k, u64 bytes = 4 * MiB, u32 handles = 256) {
    account = MemoryAccount::create(k.kmem.page_source(), bytes).value();
    table.init(*account, handles).expect("handle table");
  }
  ~Domain() { exit(); }
  void exit() {
    if (account == nullptr) return;
    table.close_all();
    account->release();
    account = nullptr;
  }
  MemoryAccount* account = nullptr;
  HandleTable table;
};

}  // namespace platypos::cap::test
