#include <platypos/base/fault.hpp>
#include <platypos/base/program_copy.hpp>
#include <platypos/cap/channel.hpp>
#include <platypos/mm/kernel_heap.hpp>
#include <platypos/trace/trace.hpp>

#include <new>

namespace platypos::cap {

struct MessageTag;

// One message, in memory paid by the writer's account: this header, the capabilities, then the bytes.
struct Message : ListNode<MessageTag> {
  MemoryAccount* account;  // holds a reference until the message is freed
  usize alloc_bytes;
  u32 bytes;
  u32 handles;
  u64 seq;  // per direction, for trace flows (write -> read)
  Capability* caps() { return reinterpret_cast<Capability*>(this + 1); }
  u8* data() { return reinterpret_cast<u8*>(caps() + handles); }
};

// What both endpoints share: the lock, the two queues (queue[i] holds the messages endpoint i reads).
struct ChannelCore {
  SpinLock lock{"channel"};
  MemoryAccount* payer = nullptr;  // holds a reference; nullptr: the kernel heap
  ChannelEndpoint* ends[2] = {nullptr, nullptr};
  IntrusiveList<Message, MessageTag> queue[2];
  usize queued_bytes[2] = {0, 0};
  u64 sent[2] = {0, 0};  // messages ever queued for endpoint i (trace flow ids)
  u32 alive = 2;
};

namespace {
constinit Atomic<u64> g_live_messages{0};
constinit Atomic<u64> g_live_endpoints{0};
}  // namespace

namespace {
// Every live endpoint, for the cycle collector: a circular list through Registered links. Lock order: registry, then
// a channel's lock.
constinit SpinLock g_registry_lock{"channel registry"};
constinit ChannelEndpoint::Registered g_registry{&g_registry, &g_registry, nullptr, 0, false, nullptr};

template <class F>
void for_each_registered(F&& f) {
  for (ChannelEndpoint::Registered* r = g_registry.next; r != &g_registry; r = r->next) f(*r);
}

void free_core(ChannelCore* core) {
  MemoryAccount* payer = core->payer;
  core->~ChannelCore();
  if (payer == nullptr) {
    kernel_heap().free(core, sizeof(ChannelCore), alignof(ChannelCore)).expect("channel core");
    return;
  }
  payer->free_bytes(core, sizeof(ChannelCore));
  payer->release();
}

void free_message(Message* m) {
  for (u32 i = 0; i < m->handles; ++i) {
    if (m->caps()[i].object != nullptr) m->caps()[i].object->release();
  }
  MemoryAccount* account = m->account;
  const usize size = m->alloc_bytes;
  m->~Message();
  account->free_bytes(m, size);
  account->release();
  g_live_messages.fetch_sub(1, std::memory_order_relaxed);
}
}  // namespace

u64 ChannelEndpoint::live_messages() { return g_live_messages.load(std::memory_order_relaxed); }

u64 ChannelEndpoint::live_endpoints() { return g_live_endpoints.load(std::memory_order_relaxed); }

ChannelEndpoint::ChannelEndpoint(ChannelCore* core, u32 side)
    : KernelObject(ObjectType::channel, &destroy_endpoint), core_(core), side_(side) {
  registry_.self = this;
  IrqSpinGuard g(g_registry_lock);
  registry_.prev = g_registry.prev;
  registry_.next = &g_registry;
  g_registry.prev->next = &registry_;
  g_registry.prev = &registry_;
  g_live_endpoints.fetch_add(1, std::memory_order_relaxed);
}

ChannelEndpoint::~ChannelEndpoint() {
  IrqSpinGuard g(g_registry_lock);
  registry_.prev->next = registry_.next;
  registry_.next->prev = registry_.prev;
  registry_.prev = registry_.next = nullptr;
  g_live_endpoints.fetch_sub(1, std::memory_order_relaxed);
}

Result<ChannelEndpoint::Pair> ChannelEndpoint::create(MemoryAccount* payer) {
  // The core is paid like the endpoints; it holds its own reference to the payer until the last end is gone.
  void* core_mem = payer != nullptr ? PLATYPOS_TRY(payer->alloc_bytes(sizeof(ChannelCore)))
                                    : PLATYPOS_TRY(kernel_heap().alloc(sizeof(ChannelCore), alignof(ChannelCore)));
  auto* core = new (core_mem) ChannelCore();
  core->payer = payer;
  if (payer != nullptr) payer->retain();
  Result<ChannelEndpoint*> a = make_object<ChannelEndpoint>(payer, core, 0u);
  if (a.is_error()) {
    free_core(core);
    return a.error();
  }
  Result<ChannelEndpoint*> b = make_object<ChannelEndpoint>(payer, core, 1u);
  if (b.is_error()) {
    free_object(*a);
    free_core(core);
    return b.error();
  }
  core->ends[0] = *a;
  core->ends[1] = *b;
  (*a)->update_signals(0, kSignalWritable);
  (*b)->update_signals(0, kSignalWritable);
  return Pair{Ref<ChannelEndpoint>::adopt(*a), Ref<ChannelEndpoint>::adopt(*b)};
}

ChannelEndpoint* ChannelEndpoint::peer_locked() const { return core_->ends[1 - side_]; }

usize ChannelEndpoint::queued_messages() const {
  IrqSpinGuard g(core_->lock);
  return core_->queue[side_].size();
}

void ChannelEndpoint::destroy_endpoint(KernelObject* self) {
  auto* ep = static_cast<ChannelEndpoint*>(self);
  ChannelCore* core = ep->core_;
  const u32 side = ep->side_;
  IntrusiveList<Message, MessageTag> orphans;
  bool last = false;
  {
    IrqSpinGuard g(core->lock);
    core->ends[side] = nullptr;
    // Nobody can read what was queued for this end any more.
    while (Message* m = core->queue[side].pop_front()) orphans.push_back(*m);
    core->queued_bytes[side] = 0;
    if (ChannelEndpoint* peer = core->ends[1 - side]) {
      peer->update_signals(kSignalWritable, kSignalPeerClosed);
    }
    last = --core->alive == 0;
  }
  // Outside the lock: freeing a message releases the handles it carried, which may close other channels.
  while (Message* m = orphans.pop_front()) free_message(m);
  free_object(ep);
  if (last) free_core(core);
}

Result<void> ChannelEndpoint::write(HandleTable& table, MemoryAccount& account, std::span<const u8> bytes,
                                    std::span<const Handle> handles) {
  if (bytes.size() > kMaxMessageBytes || handles.size() > kMaxMessageHandles) return Error::invalid_argument;
  const usize size = sizeof(Message) + handles.size() * sizeof(Capability) + bytes.size();
  void* mem = PLATYPOS_TRY(account.alloc_bytes(size));
  auto* m = new (mem) Message();
  m->account = &account;
  m->alloc_bytes = size;
  m->bytes = static_cast<u32>(bytes.size());
  m->handles = static_cast<u32>(handles.size());
  for (u32 i = 0; i < m->handles; ++i) new (&m->caps()[i]) Capability();
  copy_program_memory(m->data(), bytes.data(), bytes.size());  // from program memory, racing by design
  auto undo = [&] {
    m->~Message();
    account.free_bytes(mem, size);
  };
  {
    IrqSpinGuard g(core_->lock);
    const u32 to = 1 - side_;
    ChannelEndpoint* peer = peer_locked();
    if (peer == nullptr) {
      undo();
      return Error::peer_closed;
    }
    if (core_->queue[to].size() >= kMaxQueuedMessages || core_->queued_bytes[to] + bytes.size() > kMaxQueuedBytes ||
        fault::inject(fault::Point::channel_full)) {
      undo();
      return Error::limit_reached;
    }
    // Last check, and the only step that touches the writer's table: takes the handles or changes nothing.
    if (auto r = table.transfer_out(handles, this, peer, m->caps()); r.is_error()) {
      undo();
      return r.error();
    }
    account.retain();
    g_live_messages.fetch_add(1, std::memory_order_relaxed);
    m->seq = core_->sent[to]++;
    PLATYPOS_TRACE(channel_send, peer->koid(), bytes.size(), handles.size(), trace::flow_id(peer->koid(), m->seq));
    core_->queue[to].push_back(*m);
    core_->queued_bytes[to] += bytes.size();
    // Channel signals only change under the channel lock, so "already set" is reliable here and saves the object
    // lock on the common path (a busy queue).
    if ((peer->signals() & kSignalReadable) == 0) peer->update_signals(0, kSignalReadable);
    if (core_->queue[to].size() >= kMaxQueuedMessages || core_->queued_bytes[to] >= kMaxQueuedBytes) {
      update_signals(kSignalWritable, 0);
    }
  }
  return ok();
}

Result<ChannelEndpoint::ReadSizes> ChannelEndpoint::read(HandleTable& table, std::span<u8> bytes,
                                                         std::span<Handle> handles_out, ReadSizes* needed) {
  Message* m = nullptr;
  ReadSizes got;
  {
    IrqSpinGuard g(core_->lock);
    m = core_->queue[side_].front();
    if (m == nullptr) return peer_locked() == nullptr ? Error::peer_closed : Error::would_block;
    got = ReadSizes{m->bytes, m->handles};
    if (m->bytes > bytes.size() || m->handles > handles_out.size()) {
      if (needed != nullptr) *needed = got;
      return Error::buffer_too_small;
    }
    PLATYPOS_TRY(table.install(std::span(m->caps(), m->handles), handles_out.data()));
    copy_program_memory(bytes.data(), m->data(), m->bytes);
    PLATYPOS_TRACE(channel_recv, koid(), m->bytes, m->handles, trace::flow_id(koid(), m->seq));
    core_->queue[side_].remove(*m);
    core_->queued_bytes[side_] -= m->bytes;
    if (core_->queue[side_].empty()) update_signals(kSignalReadable, 0);
    if (ChannelEndpoint* peer = peer_locked(); peer != nullptr && (peer->signals() & kSignalWritable) == 0) {
      peer->update_signals(0, kSignalWritable);
    }
  }
  free_message(m);  // its capabilities moved into the table: only the memory goes
  return got;
}

usize ChannelEndpoint::collect_cycles() {
  IntrusiveList<Message, MessageTag> garbage;
  usize unreachable = 0;
  {
    IrqSpinGuard g(g_registry_lock);
    auto for_each_queued_channel = [](ChannelEndpoint* ep, auto&& fn) {
      SpinGuard cg(ep->core_->lock);
      for (Message& m : ep->core_->queue[ep->side_]) {
        for (u32 i = 0; i < m.handles; ++i) {
          KernelObject* o = m.caps()[i].object;
          if (o != nullptr && o->type() == ObjectType::channel) fn(static_cast<ChannelEndpoint*>(o));
        }
      }
    };
    // 1. References from outside the channel graph = all references minus those held by queued messages.
    for_each_registered([](Registered& r) {
      r.gc_refs = r.self->ref_count();
      r.reachable = false;
      r.next_work = nullptr;
    });
    for_each_registered(
        [&](Registered& r) { for_each_queued_channel(r.self, [](ChannelEndpoint* o) { --o->registry_.gc_refs; }); });
    // 2. Whatever has an outside reference is reachable, and so is everything queued in a reachable endpoint.
    Registered* work = nullptr;
    for_each_registered([&work](Registered& r) {
      if (r.gc_refs > 0) {
        r.reachable = true;
        r.next_work = work;
        work = &r;
      }
    });
    while (work != nullptr) {
      Registered* r = work;
      work = r->next_work;
      for_each_queued_channel(r->self, [&work](ChannelEndpoint* o) {
        if (!o->registry_.reachable) {
          o->registry_.reachable = true;
          o->registry_.next_work = work;
          work = &o->registry_;
        }
      });
    }
    // 3. The rest only refer to one another: empty their queues (outside the locks, freeing the messages drops the
    //    references that held the cycle together).
    for_each_registered([&](Registered& r) {
      if (r.reachable) return;
      ++unreachable;
      SpinGuard cg(r.self->core_->lock);
      while (Message* m = r.self->core_->queue[r.self->side_].pop_front()) garbage.push_back(*m);
      r.self->core_->queued_bytes[r.self->side_] = 0;
    });
  }
  while (Message* m = garbage.pop_front()) free_message(m);
  return unreachable;
}

}  // namespace platypos::cap
