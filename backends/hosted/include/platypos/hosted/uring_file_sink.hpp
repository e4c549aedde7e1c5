#pragma once
// UringFileSink: a TraceSink (core/include/platypos/trace/sink.hpp) writing a file through io_uring, in batches.
//
// write() copies the bytes into the current batch buffer; a full buffer goes out as one write request (at its file
// offset) without waiting, and the next free buffer takes over (waiting only when all of them are in flight).
// flush(false) sends the partly filled buffer too; flush(true) also waits for every request to complete. A short
// write is resubmitted for the rest; an error is kept, and every later call fails (ok() and error() tell).
//
// Used by one thread at a time (the drain worker, then the code that finishes the trace). Not copyable.

#include <platypos/base/types.hpp>

#include <liburing.h>

#include <memory>
#include <string>
#include <vector>

namespace platypos::hosted {

class UringFileSink {
 public:
  static constexpr usize kBufferBytes = 256 * 1024;
  static constexpr u32 kBuffers = 4;

  // Creates (or truncates) the file. Throws std::runtime_error naming the file and the reason.
  explicit UringFileSink(const std::string& path);
  ~UringFileSink();
  UringFileSink(const UringFileSink&) = delete;
  UringFileSink& operator=(const UringFileSink&) = delete;

  bool write(const u8* data, usize n);
  bool flush(bool wait);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  u64 bytes_written() const { return completed_bytes_; }
  u64 write_requests() const { return requests_; }
  const std::string& path() const { return path_; }

 private:
  struct Buffer {
    std::unique_ptr<u8[]> data;
    usize used = 0;
    u64 offset = 0;  // file offset of data[0]
    usize done = 0;  // bytes of this request already written (short writes)
    bool in_flight = false;
  };
  void submit(Buffer& b);
  // Reaps one completion (waiting for it if `wait`); false when there was none to reap.
  bool reap(bool wait);
  void fail(const std::string& what, int err);

  std::string path_;
  int fd_ = -1;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::vector<Buffer> buffers_;
  u32 current_ = 0;
  u64 next_offset_ = 0;
  u32 in_flight_ = 0;
  u64 completed_bytes_ = 0;
  u64 requests_ = 0;
  std::string error_;
};

}  // namespace platypos::hosted
