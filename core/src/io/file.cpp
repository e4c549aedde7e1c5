#include <platypos/base/assert.hpp>
#include <platypos/io/file.hpp>
#include <platypos/io/net.hpp>

namespace platypos::io {
namespace {
constinit Atomic<u64> g_in_flight{0};
}  // namespace

Result<void> check_path(std::span<const u8> path) {
  if (path.empty() || path.size() > abi::kMaxPathBytes) return Error::invalid_argument;
  if (path[0] == '/') return Error::access_denied;
  usize start = 0;
  for (usize i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] == 0) return Error::invalid_argument;
    if (i < path.size() && path[i] != '/') continue;
    const usize n = i - start;
    if (n == 0 || n > abi::kMaxPathComponent) return Error::invalid_argument;
    if (n == 1 && path[start] == '.') return Error::invalid_argument;
    if (n == 2 && path[start] == '.' && path[start + 1] == '.') return Error::access_denied;
    start = i + 1;
  }
  return ok();
}

// --- FileObject ----------------------------------------------------------------------------------------------------

FileObject::FileObject(cap::ObjectType type, const FileDevice* device, u64 node)
    : KernelObject(type, &FileObject::destroy), device_(device), node_(node) {}

void FileObject::destroy(cap::KernelObject* self) {
  auto* o = static_cast<FileObject*>(self);
  o->device_->release(o->device_->context, o->node_);
  cap::free_object(o);
}

Result<cap::Ref<FileObject>> FileObject::create(MemoryAccount* payer, const FileDevice* device, cap::ObjectType type,
                                                u64 node) {
  PLATYPOS_ASSERT(type == cap::ObjectType::directory || type == cap::ObjectType::file, "file object of type {}",
                  cap::object_type_name(type));
  Result<FileObject*> o = cap::make_object<FileObject>(payer, type, device, node);
  if (o.is_error()) {
    device->release(device->context, node);
    return o.error();
  }
  return cap::Ref<FileObject>::adopt(*o);
}

// --- FileRequest ---------------------------------------------------------------------------------------------------

FileRequest::FileRequest(Kind kind, cap::Ref<FileObject> target)
    : KernelObject(cap::ObjectType::io_request, &FileRequest::destroy),
      kind_(kind),
      target_(static_cast<cap::Ref<FileObject>&&>(target)) {}

u64 FileRequest::in_flight() { return g_in_flight.load(std::memory_order_relaxed); }

Result<cap::Ref<FileRequest>> FileRequest::create(MemoryAccount& account, Kind kind, cap::Ref<FileObject> target,
                                                  u32 buffer_bytes) {
  u8* buffer = nullptr;
  if (buffer_bytes > 0) buffer = static_cast<u8*>(PLATYPOS_TRY(account.alloc_bytes(buffer_bytes)));
  Result<FileRequest*> r = cap::make_object<FileRequest>(&account, kind, static_cast<cap::Ref<FileObject>&&>(target));
  if (r.is_error()) {
    if (buffer != nullptr) account.free_bytes(buffer, buffer_bytes);
    return r.error();
  }
  if (buffer != nullptr) {
    account.retain();
    (*r)->account_ = &account;
    (*r)->buffer_ = buffer;
    (*r)->buffer_bytes_ = buffer_bytes;
  }
  return cap::Ref<FileRequest>::adopt(*r);
}

void FileRequest::destroy(cap::KernelObject* self) {
  auto* r = static_cast<FileRequest*>(self);
  // An open nobody took (its op went away while the device worked): the node goes back.
  if (r->node_owned_) {
    const FileDevice* d = r->target_->device();
    d->release(d->context, r->value_);
  }
  if (r->buffer_ != nullptr) {
    r->account_->free_bytes(r->buffer_, r->buffer_bytes_);
    r->account_->release();
  }
  cap::free_object(r);
}

void FileRequest::submit(Lane& lane) {
  PLATYPOS_ASSERT(lane.files() != nullptr, "file request on a lane without a file device");
  lane_ = &lane;
  retain();  // the device's
  lane.request_started();
  g_in_flight.fetch_add(1, std::memory_order_relaxed);
  const FileDevice* d = lane.files();
  d->submit(d->context, lane, *this);
}

void FileRequest::finish() {
  Lane* lane = lane_;
  done_.store(true, std::memory_order_release);
  update_signals(0, cap::kSignalReadable);
  release();  // the device's (it may have been the last)
  g_in_flight.fetch_sub(1, std::memory_order_relaxed);
  lane->request_finished();
}

void FileRequest::complete(u64 value) {
  PLATYPOS_ASSERT(!done(), "file request completed twice");
  value_ = value;
  node_owned_ = kind_ == Kind::open;
  finish();
}

void FileRequest::fail(Error e) {
  PLATYPOS_ASSERT(!done() && e != Error::none, "file request failed twice, or with none");
  error_ = e;
  finish();
}

Result<u64> FileRequest::result() const {
  PLATYPOS_ASSERT(done(), "file request result before it is done");
  if (error_ != Error::none) return error_;
  return value_;
}

u64 FileRequest::take_node() {
  PLATYPOS_ASSERT(done() && node_owned_, "no node to take");
  node_owned_ = false;
  return value_;
}

}  // namespace platypos::io
