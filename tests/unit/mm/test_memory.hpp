#pragma once
// Host-side stand-ins for physical memory in allocator tests: a lazily backed mapping that plays physical
// addresses [0, size), and the QEMU e820 fixtures in tests/fixtures/qemu-e820.

#include <platypos/base/memory_map.hpp>
#include <platypos/mm/addr.hpp>

#include <sys/mman.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace platypos::test {

class TestMemory {
 public:
  explicit TestMemory(u64 bytes) : size_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of test memory failed");
    base_ = static_cast<std::byte*>(p);
  }
  ~TestMemory() { munmap(base_, size_); }
  TestMemory(const TestMemory&) = delete;
  TestMemory& operator=(const TestMemory&) = delete;

  DirectMap map() const { return DirectMap(reinterpret_cast<uptr>(base_)); }
  u64 size() const { return size_; }

 private:
  std::byte* base_;
  u64 size_;
};

inline MemoryType e820_type(int t) {
  switch (t) {
    case 1: return MemoryType::free_ram;
    case 3: return MemoryType::acpi_reclaimable;
    case 4: return MemoryType::acpi_nvs;
    case 5: return MemoryType::bad_memory;
    default: return MemoryType::reserved;
  }
}

// Reads one of tests/fixtures/qemu-e820/*.txt: "base length type" lines, '#' comments.
inline std::vector<MemoryRange> load_e820_fixture(const std::string& name) {
  const std::string path = std::string(PLATYPOS_FIXTURES_DIR) + "/qemu-e820/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path);
  std::vector<MemoryRange> map;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string base, len;
    int type = 0;
    ls >> base >> len >> type;
    map.push_back({std::stoull(base, nullptr, 16), std::stoull(len, nullptr, 16), e820_type(type)});
  }
  return map;
}

}  // namespace platypos::test
