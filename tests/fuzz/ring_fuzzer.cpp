// libFuzzer target: random submission-entry streams into one process's ring. Entries are mostly well-formed enough to
// reach deep into the operations (real handles, buffers inside the program's memory) and mutated into every kind of
// malformed: unknown opcodes and flags, nonzero reserved and unused fields, buffers outside or straddling the
// program's memory, stale handles, missing rights, chains of every length. The stream is published in random batches
// while the harness plays the server (consume, process_ready with time moving on) and the program (reaping, or not:
// the CQ fills up).
//
// Meanwhile a second thread (a racing core of the same process) scribbles the submission queue and the program's
// memory whenever the harness is in the kernel: every entry's bytes but its user_data (which the checks follow),
// every handle array and payload. The kernel copies each entry and each array once, then uses only its copy; what
// it reads may be torn, so any of it may fail, but nothing may crash or leak and the accounting below still holds.
// (Such a race is not reproducible byte for byte; the same scribbles also come from the input, in line, where they
// are.)
//
// Checks: nothing crashes (ASan/UBSan watch memory); every accepted entry gets exactly one completion, with the
// user_data it was submitted with (none lost, none duplicated, none invented) once time has run out and the process's
// handles are closed, except those the ring still reports in flight (waits on objects that will never signal), which
// its teardown cancels; the completion queue never holds more than it can; after the ring and the process are gone,
// every kernel object, message, ring and page is back.

#include <platypos/abi/ops.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/object.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/ring/ring.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "fuzz_input.hpp"

using namespace platypos;
using platypos::ring::Ring;

namespace {

// The racing core: scribbles the region it is given while `on`. off() returns once it has stopped for good.
class Mutator {
 public:
  Mutator() : thread_([this] { run(); }) { thread_.detach(); }
  void on(u8* sq, u32 sq_bytes, u8* mem, u64 mem_bytes, u64 seed) {
    sq_.store(sq);
    sq_bytes_.store(sq_bytes);
    mem_.store(mem);
    mem_bytes_.store(mem_bytes);
    seed_.store(seed | 1);
    on_.store(true);
  }
  void off() {
    on_.store(false);
    const u64 r = stop_requests_.fetch_add(1) + 1;
    while (stopped_at_.load() != r) std::this_thread::yield();
  }

 private:
  void run() {
    u64 x = 0;
    for (;;) {
      const u64 req = stop_requests_.load();
      if (!on_.load()) {
        stopped_at_.store(req);
        x = 0;
        std::this_thread::yield();
        continue;
      }
      if (x == 0) x = seed_.load();
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const auto v = static_cast<u8>(x >> 56);
      if ((x & 1) != 0) {
        const u32 at = static_cast<u32>((x >> 8) % sq_bytes_.load());
        const u32 in_entry = at % sizeof(abi::Sqe);
        if (in_entry >= offsetof(abi::Sqe, user_data) && in_entry < offsetof(abi::Sqe, addr)) continue;
        __atomic_store_n(sq_.load() + at, v, __ATOMIC_RELAXED);
      } else {
        __atomic_store_n(mem_.load() + (x >> 8) % mem_bytes_.load(), v, __ATOMIC_RELAXED);
      }
    }
  }

  std::atomic<u8*> sq_{nullptr};
  std::atomic<u32> sq_bytes_{1};
  std::atomic<u8*> mem_{nullptr};
  std::atomic<u64> mem_bytes_{1};
  std::atomic<u64> seed_{1};
  std::atomic<bool> on_{false};
  std::atomic<u64> stop_requests_{0};
  std::atomic<u64> stopped_at_{0};
  std::thread thread_;
};

struct World {
  hosted::SimMachine sim{{.cpus = 2, .seed = 1, .memory_bytes = 64 * MiB}};
  hosted::Kernel kernel{{.cpus = 2, .kernel_cores = 1}};
  Mutator mutator;
};

World& world() {
  static World* w = new World();  // lives for the whole fuzzing run
  return *w;
}

constexpr u32 kMemOrder = 2;  // 16 KiB of program memory
constexpr u64 kMemBytes = kPageSize << kMemOrder;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const u8* data, size_t size) {
  fuzz::Input in(data, size);
  World& w = world();
  w.kernel.reclaim();
  const u64 free_pages = w.kernel.pages().free_pages();
  const u64 objects = cap::KernelObject::live_objects();
  const u64 messages = cap::ChannelEndpoint::live_messages();
  const u64 rings = Ring::live_rings();

  proc::Process* p =
      w.kernel.processes().spawn({.name = "fuzzed", .cores = 1, .memory_bytes = 1 * MiB, .handles = 32}).value();
  const sched::ProcessId pid = p->id();
  MemoryAccount* account = &p->account();
  account->retain();  // the process may exit itself (process_exit): keep its memory for the harness
  const PhysAddr mem_phys = account->alloc_pages(kMemOrder).value();
  u8* mem = account->direct_map().to_virt<u8>(mem_phys);
  for (u64 i = 0; i < kMemBytes; ++i) mem[i] = static_cast<u8>(i * 7);
  const u32 sq_entries = 4u << (in.byte() % 4);  // 4..32
  const u32 cq_entries = sq_entries << (in.byte() % 2);
  Ring* rg = Ring::create(*p, mem, kMemBytes, {.sq_entries = sq_entries, .cq_entries = cq_entries}).value();
  abi::RingHeader* hdr = rg->header();
  auto* sq = reinterpret_cast<abi::Sqe*>(reinterpret_cast<u8*>(hdr) + hdr->sq_offset);
  auto* cq = reinterpret_cast<abi::Cqe*>(reinterpret_cast<u8*>(hdr) + hdr->cq_offset);
  const auto base = reinterpret_cast<uptr>(mem);

  const u64 race_seed = in.take<u64>();
  u64 races = 0;
  auto race_on = [&] {
    w.mutator.on(reinterpret_cast<u8*>(sq), sq_entries * static_cast<u32>(sizeof(abi::Sqe)), mem, kMemBytes,
                 race_seed + races++);
  };
  std::vector<u8> completions;  // per submitted entry: how many completions it got
  std::vector<u32> handles;     // handle values seen in results
  u32 tail = 0, cq_head = 0;
  u64 now = 0;
  auto reap = [&] {
    const u32 t = hdr->cq_tail.load(std::memory_order_acquire);
    PLATYPOS_FUZZ_CHECK(t - cq_head <= cq_entries);
    for (; cq_head != t; ++cq_head) {
      const abi::Cqe& c = cq[cq_head & (cq_entries - 1)];
      PLATYPOS_FUZZ_CHECK(c.user_data >= 1 && c.user_data <= completions.size());
      PLATYPOS_FUZZ_CHECK(++completions[c.user_data - 1] == 1);
      if (c.result > 0 && c.result < (i64{1} << 32)) handles.push_back(static_cast<u32>(c.result));
      if (c.result > 0 && (c.result >> 32) != 0 && (c.result >> 32) < 4096) {
        handles.push_back(static_cast<u32>(c.result >> 32));
        handles.push_back(static_cast<u32>(c.result));
      }
    }
    hdr->cq_head.store(cq_head, std::memory_order_release);
  };
  auto pick_handle = [&](u8 b) -> u32 {
    if (handles.empty() || b < 32) return b % 8 == 0 ? 0 : in.take<u32>();
    return handles[b % handles.size()];
  };
  auto pick_addr = [&](u8 b, u32 len) -> u64 {
    switch (b % 8) {
      case 0: return 0;
      case 1: return base + kMemBytes - len / 2;  // straddles the end
      case 2: return base - 64;                   // below
      case 3: return in.take<u64>();              // anywhere
      default: return base + (in.take<u16>() % (kMemBytes - 512));
    }
  };

  while (!in.done()) {
    const u8 action = in.byte();
    if (action < 200) {
      // Write one entry (if the SQ has room).
      if (tail - hdr->sq_head.load(std::memory_order_acquire) >= sq_entries) {
        rg->consume(in.byte() % 8 + 1);
        continue;
      }
      abi::Sqe e{};
      const u8 op = in.byte();
      e.opcode = op < 240 ? op % abi::kOpCount : op;
      if (e.opcode == static_cast<u8>(abi::Op::console_write)) e.opcode = 0;  // keep the fuzzer's output quiet
      const u8 shape = in.byte();
      e.flags =
          shape < 200 ? (shape % 4 == 0 ? abi::kSqeLink : 0) | (shape % 7 == 0 ? abi::kSqeNonBlocking : 0) : shape;
      e.handle = pick_handle(in.byte());
      e.len = in.byte() % 4 == 0 ? in.take<u32>() : in.byte() * 2u;
      e.addr = pick_addr(in.byte(), e.len);
      e.count = in.byte() % 5;
      e.addr2 = e.count != 0 ? pick_addr(in.byte(), e.count * 4) : 0;
      if (e.count != 0 && in.byte() < 200) {
        // Handles to pass: real ones where the buffer is ours.
        if (e.addr2 >= base && e.addr2 + e.count * 4 <= base + kMemBytes && e.addr2 % 4 == 0) {
          for (u32 i = 0; i < e.count; ++i)
            reinterpret_cast<u32*>(static_cast<uptr>(e.addr2))[i] = pick_handle(in.byte());
        }
      }
      const u8 a = in.byte();
      e.arg0 = a < 64 ? a : a < 128 ? (u64{1} << (a % 24)) : a < 250 ? in.take<u64>() % 0x100000 : in.take<u64>();
      const u8 b = in.byte();
      e.arg1 = b < 128 ? 0 : b < 200 ? b * 1000u : pick_addr(b, 8);
      if (in.byte() >= 250) e.reserved0 = 1;
      if (in.byte() >= 250) e.reserved1 = 1;
      completions.push_back(0);
      e.user_data = completions.size();
      sq[tail & (sq_entries - 1)] = e;
      ++tail;
    } else if (action < 220) {
      hdr->sq_tail.store(tail, std::memory_order_release);
    } else if (action < 240) {
      const u8 budget = in.byte();
      race_on();
      rg->consume(budget % 40 + 1);
      w.mutator.off();
    } else if (action < 245) {
      now += in.byte() * 100u;
      race_on();
      rg->process_ready(now);
      w.mutator.off();
    } else if (action < 250) {
      // The same scribbling, in line: one byte of an entry (not its user_data), published or not, or of memory.
      const u8 where = in.byte();
      const u8 v = in.byte();
      const u32 at = (where * 7u) % (sq_entries * static_cast<u32>(sizeof(abi::Sqe)));
      const u32 in_entry = at % sizeof(abi::Sqe);
      if (in_entry < offsetof(abi::Sqe, user_data) || in_entry >= offsetof(abi::Sqe, addr)) {
        reinterpret_cast<u8*>(sq)[at] = v;
      } else {
        mem[(where * 61u) % kMemBytes] = v;
      }
    } else {
      reap();
    }
  }
  // Drain: publish, run everything runnable, let every deadline pass, then close the process's handles: whatever still
  // waits on an object completes (with an error) on the next retry.
  hdr->sq_tail.store(tail, std::memory_order_release);
  for (int round = 0; round < 1000; ++round) {
    reap();
    const u32 n = rg->consume(64) + rg->process_ready(now += 1'000'000'000);
    if (n == 0 && hdr->sq_head.load() == tail) break;
  }
  p->handles().close_all();
  cap::ChannelEndpoint::collect_cycles();
  for (int round = 0; round < 100; ++round) {
    reap();
    if (rg->process_ready(now += 1'000'000'000) == 0) break;
  }
  reap();
  // A chain whose end was never published is not accepted (nothing of it ran). Of the accepted entries, those still in
  // flight wait on an object that holds no signal they want (a wait holds its own reference: closing the handle does
  // not end it) and get no completion: destroy() cancels them. Every other one completed exactly once.
  const u32 accepted = hdr->sq_head.load();
  u32 missing = 0;
  for (u32 i = 0; i < completions.size(); ++i) {
    if (i < accepted) {
      missing += completions[i] == 0 ? 1 : 0;
    } else {
      PLATYPOS_FUZZ_CHECK(completions[i] == 0);
    }
  }
  PLATYPOS_FUZZ_CHECK(missing == rg->in_flight());
  rg->destroy();
  account->free_pages(mem_phys, kMemOrder);
  account->release();
  (void)w.kernel.processes().exit(pid);  // no task, no reaper: torn down here (unless it exited itself)
  PLATYPOS_FUZZ_CHECK(w.kernel.processes().find(pid) == nullptr);
  PLATYPOS_FUZZ_CHECK(Ring::live_rings() == rings);
  PLATYPOS_FUZZ_CHECK(cap::KernelObject::live_objects() == objects);
  PLATYPOS_FUZZ_CHECK(cap::ChannelEndpoint::live_messages() == messages);
  w.kernel.reclaim();
  PLATYPOS_FUZZ_CHECK(w.kernel.pages().free_pages() == free_pages);
  return 0;
}
