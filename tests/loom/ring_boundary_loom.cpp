// The untrusted boundary under a racing program, the real code: CPU 0 is the kernel core running Ring::consume() on a
// CHANNEL_WRITE whose handle array (and the entry itself) lies in program memory; CPU 1 is another core of the same
// process, rewriting that array and the entry while the kernel works: a handle it may transfer, one it may not (no
// TRANSFER right), a value whose slot lies outside the table, and the entry's handle count.
//
// Whatever the interleaving: the handle without TRANSFER never leaves the table, every handle that arrives at the
// reader carries TRANSFER (no rights escalation), the table stays consistent (no slot outside it touched), the write
// is all or nothing, and everything is freed at the end. Before the kernel copied program inputs in once (issue 18),
// HandleTable::transfer_out read the array twice, with scheduling points (the objects' epochs) in between: a swap
// there moved the handle without TRANSFER, or indexed past the table.
#include "loom.hpp"

#include <platypos/base/log.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>
#include <platypos/proc/process.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/sched/scheduler.hpp>

#include "cap/cap_fixture.hpp"

namespace platypos::loom {
namespace {

constexpr u32 kMemOrder = 2;
constexpr u64 kMemBytes = kPageSize << kMemOrder;
constexpr u32 kOutside = (1u << 16) | 0xfff0;  // generation 1, a slot far beyond the table's 64

// A fresh kernel per schedule: exhaustive exploration replays a schedule from scratch and needs every run to take
// the same steps (a kernel reused across schedules would have its allocators in another state each time).
struct World {
  World() { set_log_level(LogLevel::warn); }  // not a spawn and an exit line per schedule
  cap::test::Kernel kernel{4 * MiB};
  sched::Scheduler sched{{.cpus = 2, .kernel_cores = 1}, kernel.kmem.page_source()};
  proc::ProcessTable processes{sched};
};

// A store by the racing core: a scheduling point first, so that it can land between any two of the kernel's.
void racy_store(u32* p, u32 v) {
  Platform::sched_point(SchedPoint::atomic_store);
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

struct BoundaryTest final : Instance {
  std::unique_ptr<World> w = std::make_unique<World>();
  Atomic<u32> ready{0};
  Atomic<u32> done{0};
  Atomic<u32> consumed{0};
  proc::Process* process = nullptr;
  ring::Ring* ring = nullptr;
  PhysAddr mem_phys{};
  u8* mem = nullptr;
  u32* array = nullptr;
  abi::Sqe* entry = nullptr;
  cap::Handle good = 0, bad = 0, writer = 0, reader = 0;
  u64 objects_before = 0;

  void setup() {
    objects_before = cap::KernelObject::live_objects();
    process = w->processes.spawn({.name = "racer", .cores = 1, .memory_bytes = 1 * MiB, .handles = 64}).value();
    MemoryAccount& account = process->account();
    mem_phys = account.alloc_pages(kMemOrder).value();
    mem = account.direct_map().to_virt<u8>(mem_phys);
    ring = ring::Ring::create(*process, mem, kMemBytes, {.sq_entries = 4, .cq_entries = 8}).value();
    cap::HandleTable& t = process->handles();
    auto pair = cap::ChannelEndpoint::create(&account).value();
    writer = t.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::ChannelEndpoint>&&>(pair.a)),
                   cap::Rights::write | cap::Rights::read)
                 .value();
    reader = t.add(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<cap::ChannelEndpoint>&&>(pair.b)),
                   cap::Rights::read | cap::Rights::write)
                 .value();
    good =
        t.add(cap::Event::create(&account).value(), cap::Rights::wait | cap::Rights::transfer | cap::Rights::duplicate)
            .value();
    bad = t.add(cap::Event::create(&account).value(), cap::Rights::wait).value();
    // The entry and its array, in program memory, published.
    array = reinterpret_cast<u32*>(mem + 256);
    array[0] = good;
    array[1] = good;
    abi::RingHeader* hdr = ring->header();
    entry = reinterpret_cast<abi::Sqe*>(reinterpret_cast<u8*>(hdr) + hdr->sq_offset);
    *entry = abi::Sqe{};
    entry->opcode = static_cast<u8>(abi::Op::channel_write);
    entry->handle = writer;
    entry->addr = reinterpret_cast<uptr>(mem);
    entry->len = 1;
    entry->addr2 = reinterpret_cast<uptr>(array);
    entry->count = 1;
    entry->user_data = 42;
    hdr->sq_tail.store(1, std::memory_order_release);
  }

  void run(CpuId cpu) override {
    if (cpu == 0) {
      setup();
      ready.store(1);
      while (ring->consume(4) == 0) Platform::cpu_relax();
      consumed.store(1);
      while (done.load() == 0) Platform::cpu_relax();
      verify();
      teardown();
      return;
    }
    while (ready.load() == 0) Platform::cpu_relax();
    // The other core of the process: swaps what the kernel may be reading, until the kernel has taken the entry.
    for (u32 round = 0; round < 8 && consumed.load() == 0; ++round) {
      racy_store(&array[0], bad);
      racy_store(&entry->count, 2);
      racy_store(&array[1], kOutside);
      racy_store(&array[0], kOutside);
      racy_store(&entry->count, 1);
      racy_store(&array[0], good);
    }
    done.store(1);
  }

  void verify() {
    cap::HandleTable& t = process->handles();
    LOOM_CHECK(t.check_invariants(), "handle table inconsistent");
    // The handle without TRANSFER is where it was, with its rights.
    auto b = t.info(bad);
    LOOM_CHECK(b.has_value() && b->rights == cap::Rights::wait, "the handle without TRANSFER left the table");
    // What arrived at the reader carries TRANSFER.
    const abi::RingHeader* hdr = ring->header();
    const auto* cq = reinterpret_cast<const abi::Cqe*>(reinterpret_cast<const u8*>(hdr) + hdr->cq_offset);
    LOOM_CHECK(hdr->cq_tail.load() == 1 && cq[0].user_data == 42, "no completion for the entry");
    auto ep = t.get_as<cap::ChannelEndpoint>(reader, cap::Rights::read).value();
    u8 byte = 0;
    cap::Handle got[2] = {};
    auto r = ep->read(t, std::span<u8>(&byte, 1), got);
    if (cq[0].result == 0) {
      LOOM_CHECK(r.has_value(), "the write succeeded but no message is queued");
      if (r) {
        for (u32 i = 0; i < r->handles; ++i) {
          auto info = t.info(got[i]);
          LOOM_CHECK(info.has_value() && cap::has_rights(info->rights, cap::Rights::transfer),
                     "a handle arrived without TRANSFER: rights escalation");
        }
        LOOM_CHECK(!t.info(good).has_value(), "the transferred handle is still in the writer's table");
      }
    } else {
      LOOM_CHECK(!r.has_value(), "the write failed but a message is queued");
      LOOM_CHECK(t.info(good).has_value(), "a failed write took the handle");
    }
    ep.reset();
  }

  void teardown() {
    const sched::ProcessId pid = process->id();
    ring->destroy();
    process->account().free_pages(mem_phys, kMemOrder);
    (void)w->processes.exit(pid);  // no task, no reaper: torn down here
    LOOM_CHECK(w->processes.find(pid) == nullptr, "the process was not torn down");
    process = nullptr;
  }

  void check() override { LOOM_CHECK(cap::KernelObject::live_objects() == objects_before, "kernel objects leaked"); }
};

const Register r1(
    {"ring.boundary_race",
     "real ring: CHANNEL_WRITE whose handle array and entry another core rewrites while the kernel runs it", 2, false,
     [] { return std::make_unique<BoundaryTest>(); }});

}  // namespace
}  // namespace platypos::loom
