#pragma once
// The network device of hosted threads mode: real Linux TCP sockets, each driven by the io_uring of one lane (one
// per ring server, so one per kernel core), only ever from that lane's kernel core.
//
//   listen    socket/bind/listen on the spot (their errors are the op's), then one multishot accept: every
//             connection Linux accepts is queued on the listener (closed at once when its backlog is full)
//   receive   one recv per stream at a time, into a buffer Linux picks from the lane's provided-buffer ring (so an
//             idle connection holds no buffer), re-armed while the stream's receive queue has room
//   send      one send at a time per stream, straight from the front chunk of its send queue
//   close     recv and accept cancelled; a stream's queued bytes are sent first, then the socket is closed
//
// Copies of a byte, Linux's own aside: received, one from the provided buffer into the stream's receive queue (the
// queue is the program's memory account's, the buffer the lane's) and one out to the program at net_recv; sent, one
// in from the program at net_send (its memory is read once), none on the way out (Linux copies from the queue).
//
// Files ride the same io_uring (files(), an io::FileDevice): open_at is openat2 beneath the directory's O_PATH
// descriptor with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (so neither "..", an absolute link nor /proc/self/fd can
// lead out: access_denied), then an fstat that refuses anything but a regular file (or a directory, when one was
// asked for); read_at / write_at are read / write at an offset into the request's staging buffer (one copy each way,
// io/file.hpp); sync is fdatasync; size is fstat, answered on the spot. Nodes are host file descriptors.
//
// Waking: when the lane goes idle it enables the ring's eventfd; a host thread per lane waits on it and raises a
// device interrupt on the lane's CPU (raise_device_irq), whose handler wakes the ring server.

#include <platypos/io/file.hpp>
#include <platypos/io/net.hpp>

#include <memory>

namespace platypos::hosted {

class UringNet {
 public:
  // Room for `lanes` lanes (the runtime's ring servers).
  explicit UringNet(u32 lanes);
  // After the runtime has stopped (every socket closed).
  ~UringNet();
  UringNet(const UringNet&) = delete;
  UringNet& operator=(const UringNet&) = delete;

  const io::NetDevice* device() const { return &device_; }
  const io::FileDevice* files() const { return &files_; }
  // A directory of the host as a node for an io::FileObject (the root a launcher grants a program). not_found,
  // wrong_type (not a directory), access_denied.
  static Result<u64> open_directory(const char* host_path);
  // Sockets open on the host right now (listeners and streams).
  u64 open_sockets() const;

  struct LaneState;
  struct Record;

 private:
  io::NetDevice device_;
  io::FileDevice files_;
  u32 lane_count_;
  std::unique_ptr<std::unique_ptr<LaneState>[]> lanes_;
};

}  // namespace platypos::hosted
