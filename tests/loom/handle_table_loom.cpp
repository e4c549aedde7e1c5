// Capability handle tables (core/src/cap/handle_table.cpp), the real code: one table shared by two CPUs (a process's
// kernel core and, say, its exit path), and a handle moved between two tables (the two halves of a channel write and
// read) while its object is revoked. The objects are real Events on the kernel heap.
//
// Explored: the order of the tables' lock attempts (and of the object's reference count and epoch, which are
// Atomic); a whole table operation runs as one step once its CPU holds the lock. The tables are small (3 slots), so
// freed slots are reused at once and a stale handle meets its slot holding a newer handle (another generation).
//
// Checked: every result is one the API allows in that state (ok, or the specific error: bad_handle for a closed or
// stale handle, access_denied for missing rights, revoked after a revocation), a closed handle never resolves again,
// the object's reference count is back where it started, no kernel object and no page is left over.
#include "loom.hpp"

#include <platypos/cap/event.hpp>
#include <platypos/mm/kernel_heap.hpp>

#include "cap/cap_fixture.hpp"

namespace platypos::loom {
namespace {

using cap::Handle;
using cap::HandleTable;
using cap::Rights;

constexpr u32 kSlots = 3;

cap::test::Kernel& kernel() {
  static cap::test::Kernel k(16 * MiB);
  return k;
}

std::string what(const Result<Handle>& r) { return r ? "ok" : error_name(r.error()); }
template <class T>
bool fails_with(const Result<T>& r, Error e) {
  return !r.has_value() && r.error() == e;
}

// What every test starts from: the kernel's free pages and live objects, an Event the test keeps a reference to.
struct HandleFixture : Instance {
  // Another loom test's kernel may have installed its heap since: this schedule's objects come from ours.
  bool installed = (install_kernel_heap(&kernel().kmem.heap()), true);
  u64 pages0 = kernel().settled_free_pages();
  u64 objects0 = cap::KernelObject::live_objects();
  cap::Ref<cap::Event> event = cap::Event::create().value();
  u32 refs0 = event->ref_count();

  cap::Ref<cap::KernelObject> ref() { return cap::Ref<cap::KernelObject>::retain(event.get()); }

  // After the tables are gone: the event's references, the objects and the pages are back.
  void check_released() {
    LOOM_CHECK(event->ref_count() == refs0, "event references " + std::to_string(event->ref_count()) +
                                                " != " + std::to_string(refs0) + " at the start");
    event.reset();
    LOOM_CHECK(cap::KernelObject::live_objects() == objects0, "a kernel object leaked");
    LOOM_CHECK(kernel().settled_free_pages() == pages0, "pages leaked");
  }
};

// Two CPUs on one 3-slot table holding h0 (all rights) to the event.
//   CPU 0: duplicates h0 with read|wait (ok, or bad_handle once h0 is closed, even though its slot is in use again);
//          with that handle: get(read) works, get(manage) and duplicate are access_denied; closes it; then the
//          closed handle gets bad_handle from get and close.
//   CPU 1: duplicates h0 with all rights, closes h0 (its slot goes to the back of the free list), replaces the
//          duplicate with a read-only handle (taking a slot, possibly h0's, with a new generation): the replaced
//          handle and h0 get bad_handle, the new one works; closes it.
struct SharedTableTest final : HandleFixture {
  cap::test::Domain d{kernel(), 4 * MiB, kSlots};
  Handle h0 = d.table.add(ref(), Rights::all).value();
  bool h0_closed = false;  // set by CPU 1 once close(h0) returned

  void run(CpuId cpu) override {
    HandleTable& t = d.table;
    if (cpu == 0) {
      const bool closed_before = h0_closed;
      const Result<Handle> h = t.duplicate(h0, Rights::read | Rights::wait);
      LOOM_CHECK(h.has_value() || h.error() == Error::bad_handle, "duplicate of h0: " + what(h));
      if (closed_before) LOOM_CHECK(fails_with(h, Error::bad_handle), "a closed handle was duplicated");
      if (!h) return;
      LOOM_CHECK(t.get(*h, Rights::read, cap::ObjectType::event).has_value(), "get(read) of the duplicate failed");
      LOOM_CHECK(fails_with(t.get(*h, Rights::manage, cap::ObjectType::event), Error::access_denied),
                 "get(manage) of a read|wait handle is not access_denied");
      LOOM_CHECK(fails_with(t.duplicate(*h, Rights::read), Error::access_denied),
                 "duplicate without the DUPLICATE right is not access_denied");
      LOOM_CHECK(t.close(*h).has_value(), "close of the duplicate failed");
      LOOM_CHECK(fails_with(t.get(*h, Rights::none, cap::ObjectType::event), Error::bad_handle),
                 "a closed handle resolved");
      LOOM_CHECK(fails_with(t.close(*h), Error::bad_handle), "a closed handle closed twice");
      return;
    }
    const Result<Handle> dup = t.duplicate(h0, Rights::all);
    LOOM_CHECK(dup.has_value(), "duplicate of h0 on cpu 1: " + what(dup));
    LOOM_CHECK(t.close(h0).has_value(), "close of h0 failed");
    h0_closed = true;
    if (!dup) return;
    const Result<Handle> r = t.replace(*dup, Rights::read);
    LOOM_CHECK(r.has_value(), "replace failed: " + what(r));
    LOOM_CHECK(fails_with(t.get(*dup, Rights::none, cap::ObjectType::event), Error::bad_handle),
               "a replaced handle resolved");
    LOOM_CHECK(fails_with(t.get(h0, Rights::none, cap::ObjectType::event), Error::bad_handle),
               "a closed handle resolved (stale generation)");
    if (!r) return;
    LOOM_CHECK(t.get(*r, Rights::read, cap::ObjectType::event).has_value(), "the replacement does not work");
    LOOM_CHECK(t.close(*r).has_value(), "close of the replacement failed");
  }
  void check() override {
    LOOM_CHECK(d.table.count() == 0, "table count " + std::to_string(d.table.count()) + " != 0");
    LOOM_CHECK(d.table.check_invariants(), "table bookkeeping inconsistent (slots, free list, references)");
    LOOM_CHECK(fails_with(d.table.info(h0), Error::bad_handle), "h0 resolves after the run");
    d.exit();
    check_released();
  }
};

// A handle moved from table A to table B (transfer_out, then install: a channel write and read) on CPU 0 while CPU 1
// revokes the event through a MANAGE handle in B and looks the moved handle up in A.
//   CPU 0: transfer_out(hA) is ok or revoked (then hA stays in A); install into B; get(read) of the new handle is ok
//          or revoked; closes it.
//   CPU 1: get(hA): ok or bad_handle (moved); revoke(hM); get(hA) again: bad_handle or revoked, never ok
//          (and bad_handle stays bad_handle); the revoker's own hM goes on working.
struct TransferTest final : HandleFixture {
  cap::test::Domain a{kernel(), 4 * MiB, kSlots};
  cap::test::Domain b{kernel(), 4 * MiB, kSlots};
  Handle ha = a.table.add(ref(), Rights::read | Rights::transfer).value();
  Handle hm = b.table.add(ref(), Rights::read | Rights::manage).value();
  bool moved = false;

  void run(CpuId cpu) override {
    if (cpu == 0) {
      cap::Capability c;
      const Handle hs[1] = {ha};
      const Result<void> out = a.table.transfer_out(hs, nullptr, nullptr, &c);
      LOOM_CHECK(out.has_value() || out.error() == Error::revoked, "transfer_out: not ok or revoked");
      if (!out) return;
      moved = true;
      Handle hb = cap::kInvalidHandle;
      LOOM_CHECK(b.table.install({&c, 1}, &hb).has_value(), "install failed");
      const auto g = b.table.get(hb, Rights::read, cap::ObjectType::event);
      LOOM_CHECK(g.has_value() || g.error() == Error::revoked, "get of the moved handle: not ok or revoked");
      LOOM_CHECK(b.table.close(hb).has_value(), "close of the moved handle failed");
      return;
    }
    const auto g1 = a.table.get(ha, Rights::read, cap::ObjectType::event);
    LOOM_CHECK(g1.has_value() || g1.error() == Error::bad_handle,
               "get(hA) before the revocation: not ok or bad_handle");
    LOOM_CHECK(b.table.revoke(hm).has_value(), "revoke failed");
    const auto g2 = a.table.get(ha, Rights::read, cap::ObjectType::event);
    LOOM_CHECK(fails_with(g2, Error::bad_handle) || fails_with(g2, Error::revoked),
               "get(hA) after the revocation is not bad_handle or revoked");
    if (fails_with(g1, Error::bad_handle)) LOOM_CHECK(fails_with(g2, Error::bad_handle), "a moved handle came back");
    LOOM_CHECK(b.table.get(hm, Rights::read, cap::ObjectType::event).has_value(), "the revoker's handle stopped");
  }
  void check() override {
    LOOM_CHECK(a.table.count() == (moved ? 0u : 1u) && b.table.count() == 1, "table counts off");
    LOOM_CHECK(a.table.check_invariants() && b.table.check_invariants(), "table bookkeeping inconsistent");
    LOOM_CHECK(event->ref_count() == refs0 + 1 + (moved ? 0 : 1), "references held by the tables off");
    LOOM_CHECK(
        fails_with(a.table.get(ha, Rights::none, cap::ObjectType::event), moved ? Error::bad_handle : Error::revoked),
        "hA after the run: not the specific error");
    a.exit();
    b.exit();
    check_released();
  }
};

const Register r1({"handles.shared_table",
                   "real HandleTable, 3 slots: 2 cpus duplicate/close/replace around one handle, rights and staleness",
                   2, false, [] { return std::make_unique<SharedTableTest>(); }});
const Register r2({"handles.transfer",
                   "real HandleTable x 2: a handle moved A -> B while the other cpu revokes the object and looks it up",
                   2, false, [] { return std::make_unique<TransferTest>(); }});

}  // namespace
}  // namespace platypos::loom
