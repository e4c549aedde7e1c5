// Task contexts on Boost.Context's fcontext (the low-level layer under boost::context::fiber): a switch is a
// register save/restore and a stack-pointer swap, with no allocation and no exceptions.
//
// jump_fcontext() suspends the caller and hands the resumed side a transfer_t: the caller's new fcontext and a data
// pointer. We pass a SwitchRecord so the resumed side can store the caller's fcontext into the caller's Context.

#include <platypos/base/assert.hpp>
#include <platypos/platform.hpp>

#include <boost/context/detail/fcontext.hpp>

// AddressSanitizer must be told about stack switches too (__sanitizer_start/finish_switch_fiber), or it keeps the
// OS thread's stack bounds while a task runs: every noreturn call then prints "ignoring __asan_handle_no_return"
// (with addresses, so two identical runs print differently) and stack poison is cleaned up in the wrong place.
// gcc defines __SANITIZE_ADDRESS__; older clang only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define PLATYPOS_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PLATYPOS_ASAN_FIBERS 1
#endif
#endif
#if PLATYPOS_ASAN_FIBERS
#include <sanitizer/asan_interface.h>
#endif

// ThreadSanitizer must be told about every stack switch, or it attributes a task's accesses to whichever OS thread
// happens to run it and reports nonsense. PLATYPOS_TSAN_FIBERS is defined by cmake/flags.cmake for
// PLATYPOS_SANITIZE=thread (the hosted-tsan preset). Each initialized context gets its own TSan fiber; a context that
// was never initialized (an OS thread's own stack: a CPU's idle context, the simulator's driver) stands for the fiber
// (or thread) that was running when it last switched away. Switches synchronize (flags 0): a context switch is a
// hand-over, the way a lock is.
#if PLATYPOS_TSAN_FIBERS
#include <sanitizer/tsan_interface.h>

#include <mutex>
#include <unordered_map>
#endif

namespace platypos::hosted {
namespace {

namespace bctx = boost::context::detail;

struct SwitchRecord {
  Context* from;
  Context* to;
};

#if PLATYPOS_TSAN_FIBERS
// The Platform has no "context destroyed" call: a context dies with its stack. So the fibers are kept by stack, and
// initializing a context on a stack destroys the fiber of the context that used that stack before (it is dead, or
// its stack could not be reused). Without that every task would leak a TSan thread, and TSan limits their number.
std::mutex g_tsan_fibers_lock;
std::unordered_map<void*, void*>& tsan_fibers_by_stack() {
  static auto* m = new std::unordered_map<void*, void*>;  // never destroyed: contexts may switch during exit
  return *m;
}

void* tsan_fiber_for_stack(void* stack) {
  void* fiber = __tsan_create_fiber(0);
  void* old = nullptr;
  {
    std::lock_guard g(g_tsan_fibers_lock);
    auto [it, inserted] = tsan_fibers_by_stack().try_emplace(stack, fiber);
    if (!inserted) {
      old = it->second;
      it->second = fiber;
    }
  }
  if (old != nullptr) __tsan_destroy_fiber(old);
  return fiber;
}
#endif

void before_switch([[maybe_unused]] Context& from, [[maybe_unused]] Context& to) {
#if PLATYPOS_TSAN_FIBERS
  // Always the running fiber: for an initialized context that is its own; a thread's context (a CPU's idle context,
  // which outlives the simulator runs whose CPU fibers it stood for) takes whichever fiber is leaving it now.
  from.tsan_fiber = __tsan_get_current_fiber();
  PLATYPOS_ASSERT(to.tsan_fiber != nullptr, "switching to a context without a TSan fiber");
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
#if PLATYPOS_ASAN_FIBERS
  __sanitizer_start_switch_fiber(&from.asan_fake_stack, to.stack_base, to.stack_size);
#endif
}

// Runs on the resumed side. `self` is the context now running, `rec` the switch that resumed it.
void after_switch(bctx::transfer_t t, [[maybe_unused]] Context& self) {
  auto* rec = static_cast<SwitchRecord*>(t.data);
  rec->from->handle = t.fctx;
#if PLATYPOS_ASAN_FIBERS
  const void* old_bottom = nullptr;
  usize old_size = 0;
  __sanitizer_finish_switch_fiber(self.asan_fake_stack, &old_bottom, &old_size);
  // Switching back to `from` resumes the stack it was running on just now, which is not always the one it was
  // initialized with: a context that was never initialized (an OS thread's own stack, a CPU's idle context) only
  // learns its stack here, and in sim mode a simulated CPU's context is left from whatever task that CPU is running
  // at the scheduling point, so it stands for that task's stack until it is resumed. So record, at every switch,
  // the stack ASan says we left (the way before_switch records the TSan fiber).
  rec->from->stack_base = const_cast<void*>(old_bottom);
  rec->from->stack_size = old_size;
#endif
}

void trampoline(bctx::transfer_t t) {
  Context& self = *static_cast<SwitchRecord*>(t.data)->to;
  after_switch(t, self);
  self.entry(self.arg);
  PLATYPOS_PANIC("context entry {} returned; a context must switch away for good instead",
                 reinterpret_cast<const void*>(self.entry));
}

}  // namespace

// The pattern at the bottom of every stack context_init() prepares (Context::canary).
constexpr u64 kStackCanary = 0x57ac'cafe'd00d'f00dull;
constexpr usize kCanaryWords = 4;

void HostedPlatform::context_init(Context& ctx, void* stack, usize size, ContextEntry entry, void* arg) {
  PLATYPOS_ASSERT(stack != nullptr && size >= 4096, "context stack too small: {} bytes", size);
  PLATYPOS_ASSERT(entry != nullptr, "context without an entry function");
  auto* top = static_cast<char*>(stack) + size;
  ctx = Context{};
  ctx.entry = entry;
  ctx.arg = arg;
  ctx.stack_base = stack;
  ctx.stack_size = size;
  ctx.handle = bctx::make_fcontext(top, size, &trampoline);
#if PLATYPOS_TSAN_FIBERS
  ctx.tsan_fiber = tsan_fiber_for_stack(stack);
#endif
#if PLATYPOS_ASAN_FIBERS
  // A stack used before (a simulated CPU's, from the previous run; a test's static buffer) still carries the
  // redzones of the frames that were live when its last context switched away for good.
  ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
  ctx.canary = static_cast<u64*>(stack);
  for (usize i = 0; i < kCanaryWords; ++i) ctx.canary[i] = kStackCanary;
}

void HostedPlatform::context_stack_released([[maybe_unused]] void* stack, [[maybe_unused]] usize size) {
#if PLATYPOS_ASAN_FIBERS
  // The frames that were live when the task switched away for good (exit_task, the scheduler, context_switch) left
  // their redzones poisoned, and nothing unwinds them: the pages are about to be reused as slabs, rings, other
  // stacks, and ASan would report the first legitimate access there as a stack-buffer overflow.
  ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
}

void HostedPlatform::context_switch(Context& from, Context& to) {
  PLATYPOS_ASSERT(to.handle != nullptr, "switching to a context that is running or was never initialized");
  PLATYPOS_ASSERT(&from != &to, "switching a context to itself");
  if (from.canary != nullptr) {
    for (usize i = 0; i < kCanaryWords; ++i) {
      PLATYPOS_ASSERT(from.canary[i] == kStackCanary,
                      "stack overflow: the context running on [{}, {}) wrote below the end of its stack (a task's "
                      "stack is 2^stack_order pages: deep recursion, or a large local array?)",
                      static_cast<const void*>(from.canary),
                      static_cast<const void*>(reinterpret_cast<char*>(from.canary) + from.stack_size));
    }
  }
  SwitchRecord rec{&from, &to};
  void* target = to.handle;
  to.handle = nullptr;  // running now: nobody may switch to it until it suspends again
  before_switch(from, to);
  bctx::transfer_t t = bctx::jump_fcontext(target, &rec);
  after_switch(t, from);
}

}  // namespace platypos::hosted
