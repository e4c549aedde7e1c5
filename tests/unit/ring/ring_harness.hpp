#pragma once
// RingHarness: one process's Ring driven by hand, without a ring server or a program: the test writes submission
// entries into the shared region exactly as a program would, calls consume()/process_ready() the way the server
// does, and reads the completions. The simulator is constructed (for deterministic time and CPUs) but not run: time
// stands still unless a test passes a later `now` to process_ready().

#include <platypos/abi/ops.hpp>
#include <platypos/abi/ring.hpp>
#include <platypos/cap/handle_table.hpp>
#include <platypos/hosted/kernel.hpp>
#include <platypos/hosted/sim_machine.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/ring/status.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace platypos::ring::testing {

class RingHarness {
 public:
  explicit RingHarness(RingConfig config = {}, u64 process_memory = 4 * MiB, u32 cpus = 4)
      : sim_({.cpus = cpus, .seed = 1, .memory_bytes = 128 * MiB}), kernel_({.cpus = cpus, .kernel_cores = 1}) {
    process_ = kernel_.processes().spawn({.name = "ringtest", .cores = 1, .memory_bytes = process_memory}).value();
    pid_ = process_->id();
    account_ = &process_->account();
    account_->retain();  // its own hold: the harness frees its pages after the process may be gone
    mem_phys_ = account_->alloc_pages(kMemOrder).value();
    mem_ = account_->direct_map().to_virt<u8>(mem_phys_);
    ring_ = Ring::create(*process_, mem_, kMemBytes, config).value();
    hdr_ = ring_->header();
    sq_ = reinterpret_cast<abi::Sqe*>(reinterpret_cast<u8*>(hdr_) + hdr_->sq_offset);
    cq_ = reinterpret_cast<abi::Cqe*>(reinterpret_cast<u8*>(hdr_) + hdr_->cq_offset);
  }
  ~RingHarness() {
    if (ring_ != nullptr) ring_->destroy();
    if (process_ != nullptr) {
      account_->free_pages(mem_phys_, kMemOrder);
      (void)kernel_.processes().exit(pid_);  // no task, no reaper: torn down right here
      account_->release();
    }
  }
  RingHarness(const RingHarness&) = delete;
  RingHarness& operator=(const RingHarness&) = delete;

  static constexpr u32 kMemOrder = 4;
  static constexpr u64 kMemBytes = kPageSize << kMemOrder;

  sched::Scheduler& scheduler() { return kernel_.scheduler(); }
  hosted::Kernel& kernel() { return kernel_; }
  proc::Process& process() { return *process_; }
  cap::HandleTable& table() { return process_->handles(); }
  MemoryAccount& account() { return *account_; }
  Ring& ring() { return *ring_; }
  abi::RingHeader& header() { return *hdr_; }
  // The program's memory: buffers must be in [mem(), mem() + kMemBytes).
  u8* mem() { return mem_; }
  u64 addr(usize offset = 0) const { return reinterpret_cast<uptr>(mem_) + offset; }

  // Destroys the ring now (as when its process exits); the destructor then skips it.
  void destroy_ring() {
    ring_->destroy();
    ring_ = nullptr;
  }

  // Writes `s` into the next SQ slot (not yet published).
  void push(abi::Sqe s) {
    sq_[tail_ & (hdr_->sq_entries - 1)] = s;
    ++tail_;
  }
  void publish() { hdr_->sq_tail.store(tail_, std::memory_order_release); }
  u32 consume(u32 budget = 1024) { return ring_->consume(budget); }
  u32 process_ready(u64 now = 0) { return ring_->process_ready(now); }

  // Every completion available, in order; frees their slots.
  std::vector<abi::Cqe> reap() {
    std::vector<abi::Cqe> out;
    const u32 tail = hdr_->cq_tail.load(std::memory_order_acquire);
    for (; cq_head_ != tail; ++cq_head_) out.push_back(cq_[cq_head_ & (hdr_->cq_entries - 1)]);
    hdr_->cq_head.store(cq_head_, std::memory_order_release);
    return out;
  }

  // Submits one entry, runs it, and returns its result (it must complete at once).
  i64 run_one(abi::Sqe s) {
    s.user_data = ++next_user_data_;
    push(s);
    publish();
    EXPECT_EQ(consume(), 1u);
    auto c = reap();
    EXPECT_EQ(c.size(), 1u);
    if (c.size() != 1) return -9999;
    EXPECT_EQ(c[0].user_data, s.user_data);
    return c[0].result;
  }

  cap::Handle add(cap::Ref<cap::KernelObject> obj, cap::Rights rights) {
    return table().add(static_cast<cap::Ref<cap::KernelObject>&&>(obj), rights).value();
  }

 private:
  hosted::SimMachine sim_;
  hosted::Kernel kernel_;
  sched::ProcessId pid_ = 0;
  proc::Process* process_ = nullptr;
  MemoryAccount* account_ = nullptr;
  PhysAddr mem_phys_{};
  u8* mem_ = nullptr;
  Ring* ring_ = nullptr;
  abi::RingHeader* hdr_ = nullptr;
  abi::Sqe* sq_ = nullptr;
  abi::Cqe* cq_ = nullptr;
  u32 tail_ = 0;
  u32 cq_head_ = 0;
  u64 next_user_data_ = 1000;
};

inline abi::Sqe sqe(abi::Op op, u32 handle = 0) {
  abi::Sqe s{};
  s.opcode = static_cast<u8>(op);
  s.handle = handle;
  return s;
}
inline i64 status(Error e) { return error_result(e); }

}  // namespace platypos::ring::testing
