#include <platypos/hosted/uring_file_sink.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace platypos::hosted {

UringFileSink::UringFileSink(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot create trace file " + path + ": " + std::strerror(errno));
  const int rc = io_uring_queue_init(2 * kBuffers, &ring_, 0);
  if (rc < 0) {
    ::close(fd_);
    throw std::runtime_error("io_uring_queue_init for trace file " + path + ": " + std::strerror(-rc));
  }
  ring_ready_ = true;
  buffers_.resize(kBuffers);
  for (Buffer& b : buffers_) b.data = std::make_unique<u8[]>(kBufferBytes);
}

UringFileSink::~UringFileSink() {
  if (ring_ready_) {
    flush(true);
    io_uring_queue_exit(&ring_);
  }
  if (fd_ >= 0) ::close(fd_);
}

void UringFileSink::fail(const std::string& what, int err) {
  if (error_.empty()) error_ = what + " (" + path_ + "): " + std::strerror(err);
}

void UringFileSink::submit(Buffer& b) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // the submission queue is sized for every buffer: only a reap frees it
    if (!reap(true)) {
      fail("io_uring: no submission entry", EBUSY);
      return;
    }
    sqe = io_uring_get_sqe(&ring_);
  }
  io_uring_prep_write(sqe, fd_, b.data.get() + b.done, static_cast<unsigned>(b.used - b.done), b.offset + b.done);
  io_uring_sqe_set_data(sqe, &b);
  b.in_flight = true;
  ++in_flight_;
  ++requests_;
  const int rc = io_uring_submit(&ring_);
  if (rc < 0) fail("io_uring_submit", -rc);
}

bool UringFileSink::reap(bool wait) {
  if (in_flight_ == 0) return false;
  io_uring_cqe* cqe = nullptr;
  const int rc = wait ? io_uring_wait_cqe(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
  if (rc == -EAGAIN || cqe == nullptr) return false;
  if (rc < 0) {
    fail("io_uring_wait_cqe", -rc);
    return false;
  }
  auto* b = static_cast<Buffer*>(io_uring_cqe_get_data(cqe));
  const int res = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  --in_flight_;
  b->in_flight = false;
  if (res < 0) {
    fail("trace file write", -res);
    b->used = b->done = 0;
    return true;
  }
  b->done += static_cast<usize>(res);
  completed_bytes_ += static_cast<u64>(res);
  if (res == 0 && b->done < b->used) {
    fail("trace file write", EIO);
    b->used = b->done = 0;
  } else if (b->done < b->used) {
    submit(*b);  // a short write: the rest
  } else {
    b->used = b->done = 0;
  }
  return true;
}

bool UringFileSink::write(const u8* data, usize n) {
  if (!ok()) return false;
  while (n > 0) {
    Buffer& b = buffers_[current_];
    while (b.in_flight && ok()) reap(true);
    if (!ok()) return false;
    if (b.used == 0) b.offset = next_offset_;
    const usize take = n < kBufferBytes - b.used ? n : kBufferBytes - b.used;
    std::memcpy(b.data.get() + b.used, data, take);
    b.used += take;
    next_offset_ += take;
    data += take;
    n -= take;
    if (b.used == kBufferBytes) {
      submit(b);
      current_ = (current_ + 1) % kBuffers;
    }
    while (reap(false)) {
    }
  }
  return ok();
}

bool UringFileSink::flush(bool wait) {
  if (!ok()) return false;
  Buffer& b = buffers_[current_];
  if (b.used > 0 && !b.in_flight) {
    submit(b);
    current_ = (current_ + 1) % kBuffers;
  }
  if (wait) {
    while (in_flight_ > 0 && ok()) reap(true);
  } else {
    while (reap(false)) {
    }
  }
  return ok();
}

}  // namespace platypos::hosted
