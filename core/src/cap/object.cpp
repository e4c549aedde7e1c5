#include <platypos/cap/object.hpp>

namespace platypos::cap {
namespace {
constinit Atomic<u64> g_next_koid{1};
constinit Atomic<u64> g_live_objects{0};
}  // namespace

const char* object_type_name(ObjectType t) {
  switch (t) {
    case ObjectType::any: return "any";
    case ObjectType::channel: return "channel";
    case ObjectType::process: return "process";
    case ObjectType::memory_object: return "memory object";
    case ObjectType::log_namespace: return "log namespace";
    case ObjectType::opaque_ref: return "opaque reference";
    case ObjectType::event: return "event";
    case ObjectType::net: return "net grant";
    case ObjectType::listener: return "listener";
    case ObjectType::stream: return "stream";
    case ObjectType::directory: return "directory";
    case ObjectType::file: return "file";
    case ObjectType::io_request: return "io_request";
    case ObjectType::buffer_pool: return "buffer_pool";
  }
  return "?";
}

KernelObject::KernelObject(ObjectType type, DestroyFn destroy)
    : type_(type), destroy_(destroy), koid_(g_next_koid.fetch_add(1, std::memory_order_relaxed)) {
  PLATYPOS_ASSERT(destroy != nullptr, "kernel object without a destroy function");
  g_live_objects.fetch_add(1, std::memory_order_relaxed);
}

KernelObject::~KernelObject() {
  PLATYPOS_ASSERT(observers_.empty(), "{} {} destroyed with {} observers registered", object_type_name(type_), koid_,
                  observers_.size());
  g_live_objects.fetch_sub(1, std::memory_order_relaxed);
}

u64 KernelObject::live_objects() { return g_live_objects.load(std::memory_order_relaxed); }

void KernelObject::release() {
  const u32 before = refs_.fetch_sub(1, std::memory_order_acq_rel);
  PLATYPOS_ASSERT(before > 0, "{} {} released more often than retained", object_type_name(type_), koid_);
  if (before == 1) destroy_(this);
}

void KernelObject::fire_locked(u32 signals) {
  Observer* o = observers_.front();
  while (o != nullptr) {
    Observer* next = observers_.next(*o);
    if ((o->wanted & signals) != 0) {
      observers_.remove(*o);
      o->observed = signals;
      o->fired = true;
      if (o->callback != nullptr) o->callback(o);
    }
    o = next;
  }
}

void KernelObject::update_signals(u32 clear_mask, u32 set_mask) {
  IrqSpinGuard g(lock_);
  const u32 old = signals_.load(std::memory_order_relaxed);
  const u32 now = (old & ~clear_mask) | set_mask;
  signals_.store(now, std::memory_order_release);
  if ((now & ~old) != 0) fire_locked(now);
}

bool KernelObject::observe(Observer& o) {
  IrqSpinGuard g(lock_);
  o.fired = false;
  const u32 now = signals_.load(std::memory_order_relaxed);
  if ((o.wanted & now) != 0) {
    o.observed = now;
    o.fired = true;
    if (o.callback != nullptr) o.callback(&o);
    return true;
  }
  observers_.push_back(o);
  return false;
}

bool KernelObject::cancel(Observer& o) {
  IrqSpinGuard g(lock_);
  if (!o.is_linked()) return false;
  observers_.remove(o);
  return true;
}

u32 KernelObject::revoke() {
  const u32 e = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
  update_signals(0, kSignalRevoked);
  return e;
}

}  // namespace platypos::cap
