// HostedPlatform: the Platform API on Linux, threads mode. Sim mode (one OS thread, seeded interleavings) plugs in
// through g_sim_active / sim_sched_point.

#include "cpu_state.hpp"

#include <platypos/base/assert.hpp>
#include <platypos/hosted/console.hpp>
#include <platypos/hosted/machine.hpp>

#include <dlfcn.h>
#include <execinfo.h>
#include <immintrin.h>
#include <link.h>
#include <time.h>
#include <elf_symbols.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace platypos::hosted {

SchedHook g_sched_hook = nullptr;
__thread CpuId t_cpu_id = 0;
__thread bool t_irq_enabled = true;

namespace {
thread_local CpuState t_fallback_cpu;
thread_local CpuState* t_cpu = nullptr;
std::atomic<TimerHandler> g_timer_handler{nullptr};

std::mutex g_cpus_mu;
CpuState* g_cpus = nullptr;
u32 g_cpu_count = 0;

void fire_timer(u64 now) {
  TimerHandler h = g_timer_handler.load(std::memory_order_acquire);
  if (h == nullptr) return;
  const IrqState was = HostedPlatform::irq_save();  // handlers run in "interrupt context"
  h(now);
  HostedPlatform::irq_restore(was);
}
}  // namespace

CpuState& this_cpu() { return t_cpu != nullptr ? *t_cpu : t_fallback_cpu; }
void attach_cpu(CpuState* cpu) {
  t_cpu = cpu;
  t_cpu_id = cpu != nullptr ? cpu->id : 0;
  t_irq_enabled = true;
}

void register_cpus(CpuState* cpus, u32 count) {
  std::lock_guard g(g_cpus_mu);
  g_cpus = cpus;
  g_cpu_count = count;
}

void console_flush_all() {
  auto emit_rest = [](CpuState& c) {
    if (!c.console_line.empty()) {
      console_logger().info("{}", c.console_line);
      c.console_line.clear();
    }
  };
  {
    std::lock_guard g(g_cpus_mu);
    for (u32 i = 0; i < g_cpu_count; ++i) emit_rest(g_cpus[i]);
  }
  emit_rest(this_cpu());
  console_logger().flush();
}

u32 HostedPlatform::cpu_count() {
  Machine* m = Machine::current();
  return m != nullptr ? m->cpu_count() : 1;
}

void HostedPlatform::cpu_relax() {
  sched_point(SchedPoint::spin_wait);
  _mm_pause();
}

u64 HostedPlatform::now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1'000'000'000u + static_cast<u64>(ts.tv_nsec);
}

void HostedPlatform::timer_arm(u64 deadline_ns) {
  CpuState& c = this_cpu();
  std::lock_guard g(c.mu);
  c.timer_deadline = deadline_ns == 0 ? 1 : deadline_ns;
}

void HostedPlatform::timer_cancel() {
  CpuState& c = this_cpu();
  std::lock_guard g(c.mu);
  c.timer_deadline = 0;
}

void HostedPlatform::set_timer_handler(TimerHandler handler) {
  g_timer_handler.store(handler, std::memory_order_release);
}

void HostedPlatform::cpu_idle() {
  sched_point(SchedPoint::idle);
  CpuState& c = this_cpu();
  std::unique_lock lk(c.mu);
  for (;;) {
    if (c.wake_pending) {
      c.wake_pending = false;
      return;
    }
    if (c.timer_deadline != 0) {
      const u64 now = now_ns();
      if (now >= c.timer_deadline) {
        c.timer_deadline = 0;
        lk.unlock();
        fire_timer(now);
        return;
      }
      // CLOCK_MONOTONIC and steady_clock are the same clock on Linux.
      c.cv.wait_until(lk, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(c.timer_deadline)));
    } else {
      c.cv.wait(lk);
    }
  }
}

void HostedPlatform::cpu_wake(CpuId cpu) {
  CpuState* target = nullptr;
  {
    std::lock_guard g(g_cpus_mu);
    if (g_cpus != nullptr) {
      PLATYPOS_ASSERT(cpu < g_cpu_count, "cpu_wake: no cpu {} (machine has {})", cpu, g_cpu_count);
      target = &g_cpus[cpu];
    }
  }
  if (target == nullptr) {
    PLATYPOS_ASSERT(cpu == 0, "cpu_wake: no cpu {} (no machine running)", cpu);
    target = &this_cpu();
  }
  {
    std::lock_guard g(target->mu);
    target->wake_pending = true;
  }
  target->cv.notify_one();
}

std::span<const MemoryRange> HostedPlatform::boot_memory_map() {
  Machine* m = Machine::current();
  return m != nullptr ? m->memory_map() : std::span<const MemoryRange>();
}

void* HostedPlatform::phys_to_virt(u64 phys) {
  Machine* m = Machine::current();
  PLATYPOS_ASSERT(m != nullptr && m->memory_base() != nullptr, "phys_to_virt({:#x}): no simulated memory", phys);
  PLATYPOS_ASSERT(phys < m->memory_bytes(), "phys_to_virt({:#x}): beyond the machine's {:#x} bytes", phys,
                  m->memory_bytes());
  return m->memory_base() + phys;
}

void HostedPlatform::console_write(const char* s, usize n) {
  CpuState& c = this_cpu();
  for (usize i = 0; i < n; ++i) {
    if (s[i] == '\n') {
      console_logger().info("{}", c.console_line);
      c.console_line.clear();
    } else {
      c.console_line.push_back(s[i]);
    }
  }
}

void HostedPlatform::shutdown(ExitStatus status) {
  console_flush_all();
  std::fflush(stdout);
  std::fflush(stderr);
  switch (status) {
    case ExitStatus::success: std::_Exit(0);
    case ExitStatus::failure: std::_Exit(1);
    case ExitStatus::panic: std::_Exit(kPanicExitCode);
  }
  std::_Exit(kPanicExitCode);
}

usize HostedPlatform::backtrace(uptr* pcs, usize max) {
  void* frames[64];
  const int got = ::backtrace(frames, 64);
  // Frame 0 is this function; callers want their own frame first.
  usize n = 0;
  for (int i = 1; i < got && n < max; ++i) pcs[n++] = reinterpret_cast<uptr>(frames[i]);
  return n;
}

namespace {
// The main program's full symbol table (static functions included) and its load bias, read once.
struct MainProgram {
  std::optional<tools::ElfSymbols> symbols;
  uptr bias = 0;
  uptr base = 0;
};

const MainProgram& main_program() {
  static const MainProgram prog = [] {
    MainProgram p;
    p.symbols = tools::ElfSymbols::load("/proc/self/exe", nullptr);
    // The first object dl_iterate_phdr reports is the main program.
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
          auto* mp = static_cast<MainProgram*>(data);
          mp->bias = info->dlpi_addr;
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            if (info->dlpi_phdr[i].p_type == PT_LOAD) {
              mp->base = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr - info->dlpi_phdr[i].p_offset;
              break;
            }
          }
          return 1;
        },
        &p);
    return p;
  }();
  return prog;
}
}  // namespace

bool HostedPlatform::symbolize(uptr pc, char* buf, usize cap) {
  Dl_info info;
  if (cap == 0 || dladdr(reinterpret_cast<void*>(pc), &info) == 0) return false;
  // pc is a return address: look up pc - 1, which is inside the call instruction's function.
  const MainProgram& prog = main_program();
  if (prog.symbols && reinterpret_cast<uptr>(info.dli_fbase) == prog.base) {
    if (const auto* sym = prog.symbols->lookup(pc - 1 - prog.bias)) {
      std::snprintf(buf, cap, "%s+%#lx", sym->name.c_str(), static_cast<unsigned long>(pc - prog.bias - sym->addr));
      return true;
    }
  }
  if (info.dli_sname == nullptr) return false;
  const std::string name = tools::demangle(info.dli_sname);
  std::snprintf(buf, cap, "%s+%#lx", name.c_str(),
                static_cast<unsigned long>(pc - reinterpret_cast<uptr>(info.dli_saddr)));
  return true;
}

}  // namespace platypos::hosted
