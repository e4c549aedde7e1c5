#pragma once
// RingClient: the program's side of one ring pair (abi/ring.hpp), following its memory-ordering contract exactly.
// Entries are written into the SQ as operations are issued and published together by flush(): one release store of
// the tail per batch, then a full fence and a look at NEED_WAKEUP; the doorbell is rung only when the kernel core went
// idle. Completions are read with one acquire load of the CQ tail and released with one store of the head.

#include <platypos/abi/program.hpp>
#include <platypos/abi/ring.hpp>

#include <atomic>
#include <cstdint>

namespace platypos::user {

class RingClient {
 public:
  explicit RingClient(const abi::ProgramEnv* env);
  RingClient(const RingClient&) = delete;
  RingClient& operator=(const RingClient&) = delete;

  // The next free SQ slot (zeroed), or nullptr when the SQ is full (the kernel has not consumed enough yet). The
  // entry is the caller's until commit().
  abi::Sqe* next_sqe() {
    abi::Sqe* s = slot();
    if (s != nullptr) *s = abi::Sqe{};
    return s;
  }
  // The same, not zeroed: for a caller that writes the whole entry.
  abi::Sqe* slot();
  // Whether slot() would give one (re-reads the kernel's head).
  bool sq_has_room() { return slot() != nullptr; }
  void commit() { ++tail_; }
  // Unpublished entries.
  std::uint32_t pending() const { return tail_ - published_; }

  // Publishes what was committed; rings the doorbell if the kernel core sleeps. Returns how many were published.
  std::uint32_t flush();

  // Calls f(const abi::Cqe&) for every completion available now, then frees their slots. Returns how many.
  template <class F>
  std::uint32_t reap(F&& f) {
    const std::uint32_t tail = hdr_->cq_tail.load(std::memory_order_acquire);
    std::uint32_t n = 0;
    for (std::uint32_t head = cq_head_; head != tail; ++head, ++n) f(cqes_[head & cq_mask_]);
    if (n != 0) {
      cq_head_ = tail;
      hdr_->cq_head.store(tail, std::memory_order_release);
    }
    return n;
  }
  bool has_completions() const { return hdr_->cq_tail.load(std::memory_order_acquire) != cq_head_; }

  // The blocking system call: returns once at least `min` completions are available (or the kernel woke us).
  void wait(std::uint32_t min);

  struct Stats {
    std::uint64_t submitted = 0;  // entries published
    std::uint64_t flushes = 0;    // tail publications
    std::uint64_t doorbells = 0;  // system calls: doorbell
    std::uint64_t waits = 0;      // system calls: wait_completions
  };
  const Stats& stats() const { return stats_; }
  const abi::ProgramEnv* env() const { return env_; }

 private:
  const abi::ProgramEnv* env_;
  abi::RingHeader* hdr_;
  abi::Sqe* sqes_;
  abi::Cqe* cqes_;
  std::uint32_t sq_mask_;
  std::uint32_t cq_mask_;
  std::uint32_t tail_ = 0;       // next SQ slot to fill
  std::uint32_t published_ = 0;  // what the kernel may read
  std::uint32_t cq_head_ = 0;
  std::uint32_t sq_head_seen_ = 0;  // the kernel's sq_head, as last read
  Stats stats_;
};

}  // namespace platypos::user
