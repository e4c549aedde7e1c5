#include "cpu_state.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/base/units.hpp>
#include <platypos/hosted/machine.hpp>

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <atomic>
#include <thread>

namespace platypos::hosted {
namespace {
std::atomic<Machine*> g_machine{nullptr};
}

std::vector<MemoryRange> synthetic_memory_map(u64 bytes) {
  std::vector<MemoryRange> map;
  if (bytes == 0) return map;
  auto add = [&](u64 base, u64 end, MemoryType t) {
    if (end > bytes) end = bytes;
    if (base < end) map.push_back({base, end - base, t});
  };
  add(0, 0x1000, MemoryType::reserved);  // like a PC's real-mode IVT/BDA page: never hand out physical 0
  add(0x1000, 0x9f000, MemoryType::free_ram);
  add(0x9f000, 0x100000, MemoryType::reserved);  // EBDA, VGA, option ROMs, BIOS
  add(0x100000, bytes, MemoryType::free_ram);
  return map;
}

Machine::Machine(const MachineConfig& config) : config_(config) {
  PLATYPOS_ASSERT(config.cpus >= 1 && config.cpus <= kMaxCpus, "machine with {} cpus (1..{})", config.cpus, kMaxCpus);
  if (config.memory_bytes > 0) {
    void* p =
        mmap(nullptr, config.memory_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    PLATYPOS_ASSERT(p != MAP_FAILED, "cannot map {} bytes of simulated memory", config.memory_bytes);
    memory_ = static_cast<std::byte*>(p);
    map_ = synthetic_memory_map(config.memory_bytes);
  }
  Machine* expected = nullptr;
  PLATYPOS_ASSERT(g_machine.compare_exchange_strong(expected, this), "only one hosted::Machine may exist at a time");
}

Machine::~Machine() {
  g_machine.store(nullptr);
  if (memory_ != nullptr) munmap(memory_, config_.memory_bytes);
}

Machine* Machine::current() { return g_machine.load(std::memory_order_acquire); }

void Machine::run(const std::function<void(CpuId)>& fn) {
  const u32 n = config_.cpus;
  auto cpus = std::make_unique<CpuState[]>(n);
  for (u32 i = 0; i < n; ++i) cpus[i].id = i;
  register_cpus(cpus.get(), n);
  const unsigned host_cores = std::thread::hardware_concurrency();
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (u32 i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      if (config_.pin_threads && i < host_cores) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(i, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      attach_cpu(&cpus[i]);
      fn(i);
      attach_cpu(nullptr);
    });
  }
  for (auto& t : threads) t.join();
  console_flush_all();
  register_cpus(nullptr, 0);
}

}  // namespace platypos::hosted
