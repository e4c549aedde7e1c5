// Randomized model-based test of capabilities: several processes (capability domains: a memory account and a handle
// table each) create events and channels, duplicate, transfer handles through channels, close, revoke and exit, with
// valid and invalid arguments, against a reference model that predicts every result.
//
// Checked after every operation: the exact result (value or error); that every handle a process holds in the model
// exists in its table with the model's type, object and rights (so rights never grow and nobody gains a handle the
// model did not give it); that no operation works through a handle the process does not hold; and that the number of
// live kernel objects equals the model's. At the end every process exits: no object, message or page is left.

#include <platypos/cap/channel.hpp>
#include <platypos/cap/event.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "cap/cap_fixture.hpp"
#include "test_support.hpp"

namespace platypos::cap {
namespace {

constexpr int kDomains = 4;
constexpr u32 kTableSize = 24;

struct ModelCap {
  u64 koid;
  Rights rights;
  u32 epoch;
};

struct ModelObject {
  ObjectType type;
  bool alive = true;
  u32 refs = 0;  // handles in tables + occurrences in queued messages
  u32 epoch = 0;
  u64 peer = 0;                              // channel endpoints: the other end
  std::vector<std::vector<ModelCap>> queue;  // messages this endpoint reads
};

struct Model {
  std::map<u64, ModelObject> objects;
  std::map<Handle, ModelCap> handles[kDomains];

  u32 live() const {
    u32 n = 0;
    for (const auto& [k, o] : objects) n += o.alive ? 1 : 0;
    return n;
  }

  void drop_ref(u64 koid) {
    ModelObject& o = objects.at(koid);
    PLATYPOS_ASSERT(o.alive && o.refs > 0, "model: dropping a dead reference");
    if (--o.refs > 0) return;
    kill(koid);
  }
  void kill(u64 koid) {
    ModelObject& o = objects.at(koid);
    o.alive = false;
    if (o.type != ObjectType::channel) return;
    auto queue = std::move(o.queue);
    o.queue.clear();
    for (auto& msg : queue)
      for (auto& c : msg) drop_ref(c.koid);
  }
  bool peer_alive(u64 koid) const {
    const ModelObject& o = objects.at(koid);
    return objects.at(o.peer).alive;
  }
  // The collector: endpoints held by a table are roots; queues of reachable endpoints reach what they carry.
  // Unreachable endpoints lose their queues.
  void collect() {
    std::set<u64> reachable;
    std::vector<u64> work;
    for (const auto& table : handles)
      for (const auto& [h, c] : table)
        if (objects.at(c.koid).type == ObjectType::channel && reachable.insert(c.koid).second) work.push_back(c.koid);
    while (!work.empty()) {
      const u64 k = work.back();
      work.pop_back();
      for (const auto& msg : objects.at(k).queue)
        for (const auto& c : msg)
          if (objects.at(c.koid).type == ObjectType::channel && reachable.insert(c.koid).second) work.push_back(c.koid);
    }
    std::vector<u64> garbage;
    for (auto& [k, o] : objects)
      if (o.alive && o.type == ObjectType::channel && reachable.count(k) == 0) garbage.push_back(k);
    std::vector<std::vector<ModelCap>> dropped;
    for (u64 k : garbage) {
      auto& q = objects.at(k).queue;
      for (auto& m : q) dropped.push_back(std::move(m));
      q.clear();
    }
    for (auto& msg : dropped)
      for (auto& c : msg)
        if (objects.at(c.koid).alive) drop_ref(c.koid);
  }
};

constexpr Rights kAllObjectRights = Rights::read | Rights::write | Rights::transfer | Rights::duplicate | Rights::wait |
                                    Rights::signal | Rights::manage;

TEST(CapabilityModel, HundredThousandRandomOps) {
  test::Kernel k;
  const u64 objects0 = KernelObject::live_objects();
  const u64 free0 = k.settled_free_pages();
  std::mt19937_64 rng(0x5eed0006);
  Model m;
  std::vector<std::unique_ptr<test::Domain>> doms;
  for (int i = 0; i < kDomains; ++i) doms.push_back(std::make_unique<test::Domain>(k, 4 * MiB, kTableSize));
  auto rand_rights = [&](Rights base) {
    // A random subset that usually keeps the useful rights.
    u32 r = static_cast<u32>(base);
    for (u32 bit = 1; bit <= 0x80; bit <<= 1)
      if ((r & bit) && rng() % 5 == 0) r &= ~bit;
    return static_cast<Rights>(r);
  };
  auto pick_handle = [&](int d) -> Handle {
    if (m.handles[d].empty() || rng() % 20 == 0) {
      // Sometimes a handle the process does not hold: junk, or another process's value, or a closed one.
      const u64 choice = rng() % 3;
      if (choice == 0) return static_cast<Handle>(rng());
      const int other = static_cast<int>(rng() % kDomains);
      if (choice == 1 && !m.handles[other].empty())
        return std::next(m.handles[other].begin(), static_cast<long>(rng() % m.handles[other].size()))->first;
      return static_cast<Handle>((rng() % 0x7fff + 1) << 16 | (rng() % kTableSize));
    }
    return std::next(m.handles[d].begin(), static_cast<long>(rng() % m.handles[d].size()))->first;
  };
  auto held = [&](int d, Handle h) { return m.handles[d].count(h) != 0; };
  // The error the model expects for using h in domain d with rights `need` and object type `type` (0: any).
  auto expect_use = [&](int d, Handle h, Rights need, ObjectType type) -> Error {
    auto it = m.handles[d].find(h);
    if (it == m.handles[d].end()) return Error::bad_handle;
    const ModelObject& o = m.objects.at(it->second.koid);
    if (it->second.epoch != o.epoch) return Error::revoked;
    if (static_cast<u8>(type) != 0 && o.type != type) return Error::wrong_type;
    if (!has_rights(it->second.rights, need)) return Error::access_denied;
    return Error::none;
  };
  auto install = [&](int d, Handle h, ModelCap c) {
    ASSERT_FALSE(held(d, h)) << "handle value handed out twice";
    m.handles[d][h] = c;
  };

  u64 ok_ops = 0, err_ops = 0, transfers = 0, exits = 0, collected = 0;
  for (u64 op = 0; op < 100'000; ++op) {
    const int d = static_cast<int>(rng() % kDomains);
    test::Domain& dom = *doms[d];
    // The table's own bookkeeping (used slots, the free list, references) stays consistent throughout.
    if (op % 97 == 0) {
      ASSERT_TRUE(dom.table.check_invariants()) << "after " << op << " operations";
    }
    const u64 kind = rng() % 100;
    Error got = Error::none, want = Error::none;
    if (kind < 10) {
      // Create an event.
      auto ev = Event::create().value();
      const u64 koid = ev->koid();
      const Rights r = rand_rights(kAllObjectRights);
      auto h = dom.table.add(Ref<KernelObject>(std::move(ev)), r);
      m.objects[koid] = ModelObject{ObjectType::event, true, 0, 0, 0, {}};
      if (m.handles[d].size() >= kTableSize) {
        want = Error::no_resources;
        m.objects[koid].alive = false;  // refused: the table dropped the only reference
      } else if (h.has_value()) {
        m.objects[koid].refs = 1;
        install(d, *h, {koid, r, 0});
      }
      got = h.error_or_none();
    } else if (kind < 18) {
      // Create a channel: both ends into this process (if it has room for two).
      if (m.handles[d].size() + 2 > kTableSize) continue;
      auto [a, b] = ChannelEndpoint::create().value();
      const u64 ka = a->koid(), kb = b->koid();
      m.objects[ka] = ModelObject{ObjectType::channel, true, 1, 0, kb, {}};
      m.objects[kb] = ModelObject{ObjectType::channel, true, 1, 0, ka, {}};
      const Rights r = kAllObjectRights;
      install(d, dom.table.add(Ref<KernelObject>(std::move(a)), r).value(), {ka, r, 0});
      install(d, dom.table.add(Ref<KernelObject>(std::move(b)), r).value(), {kb, r, 0});
    } else if (kind < 33) {
      // Duplicate with a random subset (sometimes asking for more than held).
      const Handle h = pick_handle(d);
      const Rights asked = rng() % 6 == 0 ? rand_rights(kAllObjectRights)
                                          : rand_rights(held(d, h) ? m.handles[d][h].rights : Rights::none);
      want = expect_use(d, h, Rights::duplicate, ObjectType::any);
      if (want == Error::none && !has_rights(m.handles[d][h].rights, asked)) want = Error::access_denied;
      if (want == Error::none && m.handles[d].size() >= kTableSize) want = Error::no_resources;
      auto r = dom.table.duplicate(h, asked);
      got = r.error_or_none();
      if (want == Error::none && r.has_value()) {
        ModelCap c = m.handles[d][h];
        c.rights = asked;
        ++m.objects.at(c.koid).refs;
        install(d, *r, c);
      }
    } else if (kind < 45) {
      // Close.
      const Handle h = pick_handle(d);
      want = held(d, h) ? Error::none : Error::bad_handle;
      got = dom.table.close(h).error_or_none();
      if (want == Error::none && got == Error::none) {
        const u64 koid = m.handles[d][h].koid;
        m.handles[d].erase(h);
        m.drop_ref(koid);
      }
    } else if (kind < 50) {
      // Revoke.
      const Handle h = pick_handle(d);
      want = expect_use(d, h, Rights::manage, ObjectType::any);
      got = dom.table.revoke(h).error_or_none();
      if (want == Error::none && got == Error::none) {
        ModelObject& o = m.objects.at(m.handles[d][h].koid);
        ++o.epoch;
        m.handles[d][h].epoch = o.epoch;
      }
    } else if (kind < 85) {
      // Transfer: write some of d's handles through a channel end d holds, whose peer another process holds.
      const Handle w = pick_handle(d);
      std::vector<Handle> send;
      const usize n = rng() % 4;
      for (usize i = 0; i < n; ++i) send.push_back(pick_handle(d));
      want = expect_use(d, w, Rights::write, ObjectType::channel);
      // The write goes through the object behind w when w is usable; only then can we look at its peer.
      int reader = -1;
      Handle rh = 0;
      if (want == Error::none) {
        const u64 ek = m.handles[d][w].koid;
        const u64 pk = m.objects.at(ek).peer;
        for (int r = 0; r < kDomains && reader < 0; ++r)
          for (const auto& [h, c] : m.handles[r])
            if (c.koid == pk && c.epoch == m.objects.at(pk).epoch && has_rights(c.rights, Rights::read)) {
              reader = r;
              rh = h;
              break;
            }
        if (reader < 0 && rng() % 2 == 0) continue;  // mostly test transfers someone can receive
        if (!m.peer_alive(ek)) {
          want = Error::peer_closed;
        } else if (m.objects.at(pk).queue.size() >= kMaxQueuedMessages) {
          want = Error::limit_reached;
        } else {
          for (usize i = 0; i < send.size() && want == Error::none; ++i) {
            want = expect_use(d, send[i], Rights::transfer, ObjectType::any);
            if (want == Error::none) {
              const u64 sk = m.handles[d][send[i]].koid;
              if (sk == ek || sk == pk) want = Error::invalid_argument;
              for (usize j = 0; j < i; ++j)
                if (send[j] == send[i]) want = Error::invalid_argument;
            }
          }
        }
      }
      auto ep = dom.table.get_as<ChannelEndpoint>(w, Rights::write);
      got = ep.is_error() ? ep.error() : (*ep)->write(dom.table, *dom.account, {}, send).error_or_none();
      if (want == Error::none && got == Error::none) {
        const u64 pk = m.objects.at(m.handles[d][w].koid).peer;
        std::vector<ModelCap> msg;
        for (Handle h : send) {
          msg.push_back(m.handles[d][h]);
          m.handles[d].erase(h);  // the reference moves into the message
        }
        m.objects.at(pk).queue.push_back(msg);
        ++transfers;
      }
      ep = Result<Ref<ChannelEndpoint>>(Error::not_found);
      // Usually the reader reads right away (if it can): handles move into its table, or stay queued. Sometimes the
      // message is left queued (with the handles it carries in flight) for a later transfer to drain, or forever:
      // that is how endpoints end up only inside queues, and cycles form for the collector.
      if (reader >= 0 && got == Error::none && rng() % 10 < 7) {
        auto rep = doms[reader]->table.get_as<ChannelEndpoint>(rh, Rights::read).value();
        const u64 pk = rep->koid();
        auto& q = m.objects.at(pk).queue;
        ASSERT_FALSE(q.empty());
        Handle out[8];
        auto r = rep->read(doms[reader]->table, {}, out);
        const bool room = m.handles[reader].size() + q.front().size() <= kTableSize;
        ASSERT_EQ(r.error_or_none(), room ? Error::none : Error::no_resources) << "op " << op;
        if (r.has_value()) {
          for (usize i = 0; i < q.front().size(); ++i) install(reader, out[i], q.front()[i]);
          q.erase(q.begin());
        }
      }
    } else if (kind < 98) {
      // Use a handle as the wrong type or without the right: must fail exactly as predicted, and change nothing.
      const Handle h = pick_handle(d);
      const ObjectType t = rng() % 2 ? ObjectType::event : ObjectType::channel;
      const Rights need = static_cast<Rights>(1u << (rng() % 8));
      want = expect_use(d, h, need, t);
      got = dom.table.get(h, need, t).error_or_none();
    } else {
      // A process exits: all its handles close, then the cycle collector runs.
      dom.exit();
      for (auto& [h, c] : m.handles[d]) m.drop_ref(c.koid);
      m.handles[d].clear();
      collected += ChannelEndpoint::collect_cycles();
      m.collect();
      doms[d] = std::make_unique<test::Domain>(k, 4 * MiB, kTableSize);
      ++exits;
    }
    ASSERT_EQ(got, want) << "op " << op << " kind " << kind << " domain " << d;
    (got == Error::none ? ok_ops : err_ops)++;
    ASSERT_EQ(KernelObject::live_objects() - objects0, m.live()) << "op " << op;
    if (op % 101 == 0) {
      for (int i = 0; i < kDomains; ++i) {
        ASSERT_EQ(doms[i]->table.count(), m.handles[i].size()) << "op " << op;
        for (const auto& [h, c] : m.handles[i]) {
          auto info = doms[i]->table.info(h);
          ASSERT_TRUE(info.has_value()) << "model handle missing from the table";
          ASSERT_EQ(info->koid, c.koid);
          ASSERT_EQ(info->rights, c.rights);
          ASSERT_EQ(info->type, m.objects.at(c.koid).type);
        }
      }
    }
  }
  for (auto& dm : doms) dm->exit();
  ChannelEndpoint::collect_cycles();
  doms.clear();
  EXPECT_EQ(KernelObject::live_objects(), objects0);
  EXPECT_EQ(ChannelEndpoint::live_messages(), 0u);
  EXPECT_EQ(k.settled_free_pages(), free0);
  EXPECT_GT(transfers, 5'000u);
  EXPECT_GT(err_ops, 10'000u);
  EXPECT_GT(ok_ops, 30'000u);
  EXPECT_GT(exits, 500u);
  EXPECT_GT(collected, 50u) << "the workload should leave cycles for the collector";
}

}  // namespace
}  // namespace platypos::cap
