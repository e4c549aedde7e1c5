#pragma once
// Files as capabilities: the kernel's side of file I/O, whatever device holds the files.
//
// Objects a program holds handles to:
//   Directory  a confined root: the program can open what lies beneath it (file_open_at with a relative path), and
//              nothing above it. Made by whoever launches a program (the launcher opens a host directory, or the
//              simulator a modelled tree) and passed at spawn, or opened beneath another directory. There is no op
//              that names a path without one (no ambient authority). READ: open files to read, open subdirectories;
//              WRITE: open files to write, create, truncate.
//   File       an open file: READ for file_read_at and file_size, WRITE for file_write_at and file_sync.
//
// Paths are checked by the kernel before any device sees them (check_path): relative, '/'-separated components,
// none empty, "." or ".."; no NUL; within kMaxPathBytes and kMaxPathComponent. Symbolic links are the device's to
// resolve, and it must keep them beneath the directory too (hosted: openat2 with RESOLVE_BENEATH; a link that leads
// out fails with access_denied).
//
// Every transfer is a FileRequest: a kernel object paid from the program's account that carries the op to the device
// of the lane (the kernel core) running it, and the result back. The op parks on the request until the device
// completes it (READABLE), then finishes on its next run: a read copies the staged bytes out to the program (once),
// an open makes the File. Staging: file_write_at copies the program's bytes into the request (read once), and the
// device writes from there; file_read_at has the device read into the request, then copies out. One copy each way,
// so that the device never touches program memory (which the program may free or rewrite meanwhile, and a dying
// process's memory goes away while transfers are in flight).
//
// Lifetime: the device holds a reference to a request from submit() until it completes it; the parked op holds
// another. An open whose op is gone by the time it completes (the process died) gives its new node back.

#include <platypos/abi/limits.hpp>
#include <platypos/cap/object.hpp>

#include <span>

namespace platypos::io {

class Lane;
class FileRequest;

// What a backend implements to carry files. Nodes are the device's ids for what it opened (a directory or a file).
// Its completions come through the lane's poll (the lane's NetDevice polls one per-core device for both).
struct FileDevice {
  void* context = nullptr;
  // On the lane's core: starts `r` (FileRequest::kind() says what). The device calls r.complete() or r.fail() once,
  // later from the lane's poll or at once.
  void (*submit)(void* context, Lane& lane, FileRequest& r) = nullptr;
  // From any CPU: nobody uses `node` any more.
  void (*release)(void* context, u64 node) = nullptr;
};

// file_open_at's path checked: would the kernel let it reach the device. invalid_argument: empty, too long, a NUL,
// an empty component (a leading, trailing or doubled '/'...), "."; access_denied: absolute, or a ".." component.
Result<void> check_path(std::span<const u8> path);

// A directory or a file: the object a handle names.
class FileObject final : public cap::KernelObject {
 public:
  // The object for `node`, opened by `device`, paid by `payer` (nullptr: the kernel heap). It owns the node: its
  // destruction releases it (also when creating it fails).
  static Result<cap::Ref<FileObject>> create(MemoryAccount* payer, const FileDevice* device, cap::ObjectType type,
                                             u64 node);
  const FileDevice* device() const { return device_; }
  u64 node() const { return node_; }

 private:
  template <class T, class... Args>
  friend Result<T*> cap::make_object(MemoryAccount* payer, Args&&... args);
  FileObject(cap::ObjectType type, const FileDevice* device, u64 node);
  static void destroy(cap::KernelObject* self);
  const FileDevice* device_;
  u64 node_;
};

class FileRequest final : public cap::KernelObject {
 public:
  enum class Kind : u8 { open, read, write, sync, size };

  // A request on `target` (a directory for open, a file otherwise) with `buffer_bytes` of staging (0: none; the
  // path for open, the bytes for read and write), paid from `account`. Fails with no_memory.
  static Result<cap::Ref<FileRequest>> create(MemoryAccount& account, Kind kind, cap::Ref<FileObject> target,
                                              u32 buffer_bytes);

  // Hands it to `lane`'s file device (the device's reference is taken here).
  void submit(Lane& lane);

  Kind kind() const { return kind_; }
  FileObject& target() const { return *target_; }
  u64 offset = 0;  // read, write
  u32 length = 0;  // read, write: bytes; open: the path's bytes (the buffer holds them and a NUL)
  u32 flags = 0;   // open: abi::kOpen*
  std::span<u8> buffer() const { return {buffer_, buffer_bytes_}; }
  // Room for the device's own per-request state (a host open_how...).
  alignas(8) u8 device_scratch[32] = {};

  // --- The device's side (once) ---
  // Done with `value` (open: the new node, which the request owns until take_node(); read/write: bytes moved; size:
  // the size in bytes; sync: 0). Drops the device's reference: it must not touch the request afterwards.
  void complete(u64 value);
  void fail(Error e);

  // --- The op's side ---
  bool done() const { return done_.load(std::memory_order_acquire); }
  // The result once done(): the value, or the error.
  Result<u64> result() const;
  // An open's node, which the caller now owns (a FileObject takes it).
  u64 take_node();

  static u64 in_flight();

 private:
  template <class T, class... Args>
  friend Result<T*> cap::make_object(MemoryAccount* payer, Args&&... args);
  FileRequest(Kind kind, cap::Ref<FileObject> target);
  static void destroy(cap::KernelObject* self);
  void finish();

  Kind kind_;
  cap::Ref<FileObject> target_;
  Lane* lane_ = nullptr;
  u8* buffer_ = nullptr;
  u32 buffer_bytes_ = 0;
  MemoryAccount* account_ = nullptr;  // retained while buffer_ is its
  Atomic<bool> done_{false};
  Error error_ = Error::none;
  u64 value_ = 0;
  bool node_owned_ = false;  // an open's node not taken yet
};

}  // namespace platypos::io
