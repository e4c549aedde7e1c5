// Files: file_open_at, file_read_at, file_write_at, file_sync, file_size (io/file.hpp has the model).
//
// Each op runs twice: first it checks the entry, stages what it must (a path, the bytes to write: copied from
// program memory once), hands a FileRequest to the device and parks on it; resumed once the request is done, it
// finishes (copies read bytes out, makes the new handle) and completes.

#include <platypos/base/checked.hpp>
#include <platypos/io/file.hpp>
#include <platypos/io/net.hpp>

#include "op.hpp"

namespace platypos::ring {
namespace {
using io::FileObject;
using io::FileRequest;

constexpr cap::Rights kPassRights = cap::Rights::duplicate | cap::Rights::transfer;

// The request a resumed op was parked on (nullptr on its first run).
FileRequest* resumed_request(OpContext& cx) {
  cap::KernelObject* o = cx.parked_on();
  if (o == nullptr || o->type() != cap::ObjectType::io_request) return nullptr;
  return static_cast<FileRequest*>(o);
}

// Hands `r` to this core's device and parks the op on it.
Result<i64> submit_and_park(OpContext& cx, io::Lane& lane, cap::Ref<FileRequest> r) {
  // Park first: paying for the parked record is what can fail, and then nothing has happened yet.
  FileRequest& req = *r;
  Result<i64> parked = cx.park(cap::Ref<cap::KernelObject>(static_cast<cap::Ref<FileRequest>&&>(r)),
                               cap::kSignalReadable, 0);
  if (cx.parked() == nullptr) return parked;  // (no_memory for the record: the request goes unsubmitted)
  req.submit(lane);
  return parked;
}

// A request for the op's object, if this kernel has files.
Result<cap::Ref<FileRequest>> new_request(OpContext& cx, io::Lane** lane, FileRequest::Kind kind, u32 buffer_bytes) {
  *lane = cx.lane();
  if (*lane == nullptr || (*lane)->files() == nullptr) return Error::not_supported;
  auto target = cap::Ref<FileObject>::retain(&cx.object_as<FileObject>());
  return FileRequest::create(cx.account(), kind, static_cast<cap::Ref<FileObject>&&>(target), buffer_bytes);
}

// offset + len within kMaxFileOffset; the length one transfer moves.
Result<u32> transfer_length(u64 offset, u64 len) {
  u64 end = 0;
  if (!checked_add(offset, len, &end) || end > abi::kMaxFileOffset) return Error::out_of_range;
  return static_cast<u32>(len < abi::kMaxFileTransfer ? len : abi::kMaxFileTransfer);
}

}  // namespace

Result<i64> op_file_open_at(OpContext& cx) {
  if (FileRequest* r = resumed_request(cx)) {
    if (!r->done()) return cx.park(cap::Ref<cap::KernelObject>::retain(r), cap::kSignalReadable, 0);
    PLATYPOS_TRY(r->result());
    const bool dir = (r->flags & abi::kOpenDirectory) != 0;
    // The directory's rights bound the new handle's.
    const cap::HandleInfo info = PLATYPOS_TRY(cx.table().info(cx.sqe().handle));
    cap::Rights rights = info.rights & kPassRights;
    if (dir) {
      rights = info.rights & (cap::Rights::read | cap::Rights::write | kPassRights);
    } else {
      if ((r->flags & abi::kOpenRead) != 0) rights = rights | cap::Rights::read;
      if ((r->flags & abi::kOpenWrite) != 0) rights = rights | cap::Rights::write;
    }
    auto obj = PLATYPOS_TRY(FileObject::create(&cx.account(), r->target().device(),
                                               dir ? cap::ObjectType::directory : cap::ObjectType::file,
                                               r->take_node()));
    // (Out of handles now: the object goes with its reference, the node with it.)
    return PLATYPOS_TRY(cx.table().add(static_cast<cap::Ref<FileObject>&&>(obj), rights));
  }

  const u64 flags = cx.sqe().arg0;
  if ((flags & ~abi::kOpenAll) != 0) return Error::invalid_argument;
  const bool dir = (flags & abi::kOpenDirectory) != 0;
  const bool write = (flags & abi::kOpenWrite) != 0;
  const bool modifies = (flags & (abi::kOpenCreate | abi::kOpenTruncate | abi::kOpenExclusive)) != 0;
  if (dir && flags != abi::kOpenDirectory) return Error::invalid_argument;
  if (!dir && (flags & (abi::kOpenRead | abi::kOpenWrite)) == 0) return Error::invalid_argument;
  if (modifies && !write) return Error::invalid_argument;
  if ((flags & abi::kOpenExclusive) != 0 && (flags & abi::kOpenCreate) == 0) return Error::invalid_argument;
  const cap::HandleInfo info = PLATYPOS_TRY(cx.table().info(cx.sqe().handle));
  if ((dir || (flags & abi::kOpenRead) != 0) && !cap::has_rights(info.rights, cap::Rights::read)) return Error::access_denied;
  if (write && !cap::has_rights(info.rights, cap::Rights::write)) return Error::access_denied;
  if (cx.table().free_slots() == 0) return Error::no_resources;

  // The path: copied in once (with room for a NUL), then checked, then used.
  const u32 len = static_cast<u32>(cx.in().size());
  if (len == 0) return Error::invalid_argument;
  io::Lane* lane = nullptr;
  cap::Ref<FileRequest> r = PLATYPOS_TRY(new_request(cx, &lane, FileRequest::Kind::open, len + 1));
  std::span<u8> path = r->buffer();
  cx.in().copy_to(path.data());
  path[len] = 0;
  PLATYPOS_TRY(io::check_path(path.first(len)));
  r->length = len;
  r->flags = static_cast<u32>(flags);
  return submit_and_park(cx, *lane, static_cast<cap::Ref<FileRequest>&&>(r));
}

Result<i64> op_file_read_at(OpContext& cx) {
  if (FileRequest* r = resumed_request(cx)) {
    if (!r->done()) return cx.park(cap::Ref<cap::KernelObject>::retain(r), cap::kSignalReadable, 0);
    const u64 n = PLATYPOS_TRY(r->result());
    PLATYPOS_ASSERT(n <= r->length && n <= cx.out().size(), "file read of {} bytes into {}", n, r->length);
    cx.out().copy_from(r->buffer().data(), n);
    return static_cast<i64>(n);
  }
  const u32 n = PLATYPOS_TRY(transfer_length(cx.sqe().arg0, cx.out().size()));
  if (n == 0) return 0;
  io::Lane* lane = nullptr;
  cap::Ref<FileRequest> r = PLATYPOS_TRY(new_request(cx, &lane, FileRequest::Kind::read, n));
  r->offset = cx.sqe().arg0;
  r->length = n;
  return submit_and_park(cx, *lane, static_cast<cap::Ref<FileRequest>&&>(r));
}

Result<i64> op_file_write_at(OpContext& cx) {
  if (FileRequest* r = resumed_request(cx)) {
    if (!r->done()) return cx.park(cap::Ref<cap::KernelObject>::retain(r), cap::kSignalReadable, 0);
    const u64 n = PLATYPOS_TRY(r->result());
    PLATYPOS_ASSERT(n <= r->length, "file write of {} bytes of {}", n, r->length);
    return static_cast<i64>(n);
  }
  const u32 n = PLATYPOS_TRY(transfer_length(cx.sqe().arg0, cx.in().size()));
  if (n == 0) return 0;
  io::Lane* lane = nullptr;
  cap::Ref<FileRequest> r = PLATYPOS_TRY(new_request(cx, &lane, FileRequest::Kind::write, n));
  // The bytes: copied in once; the device writes from the copy.
  copy_program_memory(r->buffer().data(), cx.in().for_one_copy().data(), n);
  r->offset = cx.sqe().arg0;
  r->length = n;
  return submit_and_park(cx, *lane, static_cast<cap::Ref<FileRequest>&&>(r));
}

namespace {
Result<i64> simple_request(OpContext& cx, FileRequest::Kind kind) {
  if (FileRequest* r = resumed_request(cx)) {
    if (!r->done()) return cx.park(cap::Ref<cap::KernelObject>::retain(r), cap::kSignalReadable, 0);
    return static_cast<i64>(PLATYPOS_TRY(r->result()));
  }
  io::Lane* lane = nullptr;
  cap::Ref<FileRequest> r = PLATYPOS_TRY(new_request(cx, &lane, kind, 0));
  return submit_and_park(cx, *lane, static_cast<cap::Ref<FileRequest>&&>(r));
}
}  // namespace

Result<i64> op_file_sync(OpContext& cx) { return simple_request(cx, FileRequest::Kind::sync); }

Result<i64> op_file_size(OpContext& cx) { return simple_request(cx, FileRequest::Kind::size); }

}  // namespace platypos::ring
