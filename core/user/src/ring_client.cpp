#include <platypos/user/ring_client.hpp>

namespace platypos::user {

RingClient::RingClient(const abi::ProgramEnv* env)
    : env_(env),
      hdr_(env->ring),
      sqes_(reinterpret_cast<abi::Sqe*>(reinterpret_cast<char*>(env->ring) + env->ring->sq_offset)),
      cqes_(reinterpret_cast<abi::Cqe*>(reinterpret_cast<char*>(env->ring) + env->ring->cq_offset)),
      sq_mask_(env->ring->sq_entries - 1),
      cq_mask_(env->ring->cq_entries - 1),
      tail_(env->ring->sq_tail.load(std::memory_order_relaxed)),
      published_(tail_),
      cq_head_(env->ring->cq_head.load(std::memory_order_relaxed)),
      sq_head_seen_(env->ring->sq_head.load(std::memory_order_relaxed)) {}

abi::Sqe* RingClient::slot() {
  // The kernel's head, as last read: re-read it (a cache-line transfer) only when the SQ looks full.
  if (tail_ - sq_head_seen_ > sq_mask_) {
    sq_head_seen_ = hdr_->sq_head.load(std::memory_order_acquire);
    if (tail_ - sq_head_seen_ > sq_mask_) return nullptr;
  }
  return &sqes_[tail_ & sq_mask_];
}

std::uint32_t RingClient::flush() {
  const std::uint32_t n = tail_ - published_;
  if (n == 0) return 0;
  hdr_->sq_tail.store(tail_, std::memory_order_release);
  published_ = tail_;
  stats_.submitted += n;
  ++stats_.flushes;
  // The fence orders our tail store before the flag load (see abi/ring.hpp): without it both sides could miss.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if ((hdr_->flags.load(std::memory_order_relaxed) & abi::kRingFlagNeedWakeup) != 0) {
    ++stats_.doorbells;
    env_->doorbell(env_->syscall_ctx);
  }
  return n;
}

void RingClient::wait(std::uint32_t min) {
  ++stats_.waits;
  env_->wait_completions(env_->syscall_ctx, min);
}

}  // namespace platypos::user
