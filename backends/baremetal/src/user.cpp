#include "user.hpp"

#include "clock.hpp"
#include "gdt.hpp"
#include "percpu.hpp"

#include <platypos/baremetal/cpu.hpp>
#include <platypos/baremetal/paging.hpp>
#include <platypos/baremetal/user_abi.hpp>
#include <platypos/baremetal/user_images.hpp>
#include <platypos/baremetal/vectors.hpp>
#include <platypos/base/assert.hpp>
#include <platypos/base/format.hpp>
#include <platypos/base/log.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/mm/kernel_memory.hpp>
#include <platypos/mm/memory_account.hpp>
#include <platypos/ring/ring.hpp>
#include <platypos/sched/scheduler.hpp>
#include <platypos/sync/spinlock.hpp>

#include <atomic>
#include <new>

namespace platypos::baremetal {
const char* exception_mnemonic(u8 vector);
const char* exception_name(u8 vector);
}  // namespace platypos::baremetal

namespace platypos::baremetal::user {

// Saved by platypos_enter_user (user_entry.S reads resume_rsp at offset 0 and rsp0_slot at 8).
struct UserContext {
  u64 resume_rsp = 0;
  void* rsp0_slot = nullptr;  // this CPU's TSS rsp0 (unaligned: gdt.hpp)
};
static_assert(offsetof(UserContext, resume_rsp) == 0 && offsetof(UserContext, rsp0_slot) == 8);

}  // namespace platypos::baremetal::user

extern "C" platypos::u64 platypos_enter_user(platypos::baremetal::user::UserContext* ctx, platypos::u64 entry,
                                             platypos::u64 user_stack, platypos::u64 arg);
extern "C" [[noreturn]] void platypos_leave_user(platypos::baremetal::user::UserContext* ctx, platypos::u64 value);
extern "C" char platypos_syscall_entry[];

namespace platypos::baremetal::user {
namespace {

using namespace user_abi;

using namespace paging::pte;

// MSRs of the syscall instruction.
constexpr u32 kMsrStar = 0xc0000081;
constexpr u32 kMsrLstar = 0xc0000082;
constexpr u32 kMsrFmask = 0xc0000084;
constexpr u32 kMsrKernelGsBase = 0xc0000102;
constexpr u64 kEferSce = 1u << 0;
// Cleared on entry: interrupts (until the kernel stack is in place), direction, trap, alignment check.
constexpr u64 kFmask = (1u << 9) | (1u << 10) | (1u << 8) | (1u << 18);

// Why a user thread left ring 3 for good (platypos_leave_user's value).
enum class Leave : u64 { exited = 1, killed = 2, faulted = 3 };

// A process's address space, shared by its cores' tasks. Lives in the process's memory (so do its page tables).
struct AddressSpace {
  SpinLock lock{"address space"};
  MemoryAccount* account = nullptr;
  u64 root = 0;  // PML4, physical
  u64 entry = 0;
  u8* memory = nullptr;  // the program's memory, kernel address (mapped at kUserMemoryBase)
  u64 memory_bytes = 0;
};

// One per process with running user threads, found by pid (a process's cores start concurrently).
struct SpaceSlot {
  sched::ProcessId pid = sched::kNoProcess;
  AddressSpace* space = nullptr;
  u32 users = 0;
};
constexpr u32 kMaxSpaces = sched::Scheduler::kMaxProcesses;
constinit SpinLock g_spaces_lock{"user spaces"};
constinit SpaceSlot g_spaces[kMaxSpaces] = {};

// The thread state of one core's task while it runs its program.
struct UserThread {
  UserContext ctx;  // first: user_entry.S
  ring::Ring* ring = nullptr;
  sched::Task* task = nullptr;
  u32 core = 0;
  u32 trap_depth = 0;  // this CPU's nesting at entry (restored when a trap handler leaves for good)
  i64 exit_code = 0;
  // A CPU exception in ring 3.
  u8 vector = 0;
  u64 error_code = 0;
  u64 rip = 0;
  u64 rsp = 0;
  u64 cr2 = 0;
};

constinit u64 g_clock_page = 0;  // physical

constexpr u32 kMaxPrograms = 32;
constinit abi::ProgramDescriptor g_descriptors[kMaxPrograms] = {};
constinit const abi::ProgramDescriptor* g_descriptor_ptrs[kMaxPrograms] = {};
constinit u32 g_program_count = 0;

constinit std::atomic<u64> g_syscalls{0};
constinit std::atomic<u64> g_entries{0};
constinit std::atomic<u64> g_faults{0};
constinit std::atomic<u64> g_kills{0};

u64* table_at(u64 phys) { return static_cast<u64*>(Platform::phys_to_virt(phys)); }

u64 kernel_phys(const void* p) { return reinterpret_cast<uptr>(p) - paging::kDirectMapBase; }

// A zeroed page from the process's memory.
Result<u64> zeroed_page(MemoryAccount& account) {
  const PhysAddr p = PLATYPOS_TRY(account.alloc_pages(0));
  u64* t = table_at(p.value());
  for (usize i = 0; i < kPageSize / 8; ++i) t[i] = 0;
  return p.value();
}

// Maps one 4 KiB user page. Fails with no_memory (a table) or already_exists (the page is mapped).
Result<void> map_page(AddressSpace& as, u64 va, u64 phys, bool writable, bool executable) {
  u64 table = as.root;
  for (int level = 3; level >= 1; --level) {
    u64& e = table_at(table)[(va >> (12 + 9 * level)) & 511];
    if ((e & kPresent) == 0) e = PLATYPOS_TRY(zeroed_page(*as.account)) | kPresent | kWritable | kUser;
    table = e & kAddressMask;
  }
  u64& leaf = table_at(table)[(va >> 12) & 511];
  if ((leaf & kPresent) != 0) return Error::already_exists;
  u64 flags = kPresent | kUser;
  if (writable) flags |= kWritable;
  if (!executable && paging::nx_enabled()) flags |= kNoExecute;
  leaf = phys | flags;
  return ok();
}

Result<void> map_range(AddressSpace& as, u64 va, u64 phys, u64 bytes, bool writable) {
  for (u64 off = 0; off < bytes; off += kPageSize) PLATYPOS_TRY(map_page(as, va + off, phys + off, writable, false));
  return ok();
}

// --- ELF -------------------------------------------------------------------------------------------------------------

struct Elf64Header {
  u8 ident[16];
  u16 type, machine;
  u32 version;
  u64 entry, phoff, shoff;
  u32 flags;
  u16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Elf64Phdr {
  u32 type, flags;
  u64 offset, vaddr, paddr, filesz, memsz, align;
};
constexpr u32 kPtLoad = 1;
constexpr u32 kPfX = 1, kPfW = 2;

// Copies the image's loadable segments into fresh pages of the process and maps them. Every field is checked: the
// image is the kernel's own, but a loader that trusts its input is a loader that will one day be fed a bad one.
Result<void> load_elf(AddressSpace& as, const UserImage& image) {
  if (image.size < sizeof(Elf64Header)) return Error::invalid_argument;
  Elf64Header h;
  __builtin_memcpy(&h, image.data, sizeof h);
  if (h.ident[0] != 0x7f || h.ident[1] != 'E' || h.ident[2] != 'L' || h.ident[3] != 'F' || h.ident[4] != 2 ||
      h.ident[5] != 1 || h.type != 2 || h.machine != 62 || h.phentsize != sizeof(Elf64Phdr) || h.phoff > image.size ||
      h.phnum > (image.size - h.phoff) / sizeof(Elf64Phdr)) {
    return Error::invalid_argument;
  }
  bool entry_in_text = false;
  for (u16 i = 0; i < h.phnum; ++i) {
    Elf64Phdr ph;
    __builtin_memcpy(&ph, image.data + h.phoff + i * sizeof(Elf64Phdr), sizeof ph);
    if (ph.type != kPtLoad || ph.memsz == 0) continue;
    const bool writable = (ph.flags & kPfW) != 0;
    const bool executable = (ph.flags & kPfX) != 0;
    u64 end = 0;
    if ((writable && executable) || ph.filesz > ph.memsz || ph.offset > image.size ||
        ph.filesz > image.size - ph.offset || __builtin_add_overflow(ph.vaddr, ph.memsz, &end) ||
        ph.vaddr < kUserImageBase || end > kUserImageLimit || ph.vaddr % kPageSize != ph.offset % kPageSize) {
      return Error::invalid_argument;
    }
    if (executable && h.entry >= ph.vaddr && h.entry < end) entry_in_text = true;
    for (u64 page = align_down(ph.vaddr, kPageSize); page < end; page += kPageSize) {
      const u64 phys = PLATYPOS_TRY(zeroed_page(*as.account));
      auto* dst = static_cast<u8*>(Platform::phys_to_virt(phys));
      // The file bytes that fall into this page.
      const u64 from = page > ph.vaddr ? page : ph.vaddr;
      const u64 file_end = ph.vaddr + ph.filesz;
      const u64 to = page + kPageSize < file_end ? page + kPageSize : file_end;
      for (u64 va = from; va < to; ++va) dst[va - page] = image.data[ph.offset + (va - ph.vaddr)];
      PLATYPOS_TRY(map_page(as, page, phys, writable, executable));
    }
  }
  if (!entry_in_text) return Error::invalid_argument;
  as.entry = h.entry;
  return ok();
}

// --- Address spaces ----------------------------------------------------------------------------------------------

// Everything it needs comes from kernel state (the process, its ring), never from the env: that is program memory,
// and another core of the process may already be running and rewriting it.
Result<AddressSpace*> build_space(sched::Process& p, const ring::Ring& ring) {
  const UserImage* image = find_user_image(std::string_view(p.name()));
  if (image == nullptr) return Error::not_found;
  MemoryAccount& account = *p.memory();
  void* mem = PLATYPOS_TRY(account.alloc_bytes(sizeof(AddressSpace)));
  auto* as = new (mem) AddressSpace();
  as->account = &account;
  as->root = PLATYPOS_TRY(zeroed_page(account));
  // The kernel half: the kernel's own entries (its direct map and image), not user-accessible.
  const u64* kernel = table_at(paging::kernel_root());
  for (usize i = 256; i < 512; ++i) table_at(as->root)[i] = kernel[i];
  PLATYPOS_TRY(load_elf(*as, *image));
  as->memory = ring.memory();
  as->memory_bytes = ring.memory_bytes();
  // (One buddy block: whole pages, physically contiguous.)
  PLATYPOS_TRY(map_range(*as, kUserMemoryBase, kernel_phys(as->memory), as->memory_bytes, true));
  PLATYPOS_TRY(map_page(*as, kUserClockPage, g_clock_page, false, false));
  return as;
}

// The process's address space, built by whichever of its cores comes first; counts the caller as a user.
Result<AddressSpace*> acquire_space(sched::Process& p, const ring::Ring& ring) {
  IrqSpinGuard g(g_spaces_lock);
  SpaceSlot* free_slot = nullptr;
  for (SpaceSlot& s : g_spaces) {
    if (s.pid == p.id()) {
      ++s.users;
      return s.space;
    }
    if (s.pid == sched::kNoProcess && free_slot == nullptr) free_slot = &s;
  }
  PLATYPOS_ASSERT(free_slot != nullptr, "more address spaces than processes");
  // Whatever build_space took before failing stays in the process's memory, returned with it.
  AddressSpace* as = PLATYPOS_TRY(build_space(p, ring));
  *free_slot = SpaceSlot{p.id(), as, 1};
  return as;
}

}  // namespace

const void* program_memory(sched::ProcessId pid) {
  IrqSpinGuard g(g_spaces_lock);
  for (const SpaceSlot& s : g_spaces)
    if (s.pid == pid && s.space != nullptr) return s.space->memory;
  return nullptr;
}

namespace {

void release_space(sched::ProcessId pid) {
  IrqSpinGuard g(g_spaces_lock);
  for (SpaceSlot& s : g_spaces) {
    if (s.pid != pid) continue;
    if (--s.users == 0) {
      // The page tables stay allocated in the process's memory (they go with it); the bookkeeping goes now (an
      // account must be empty of heap objects when it is freed).
      AddressSpace* as = s.space;
      s = SpaceSlot{};
      MemoryAccount* account = as->account;
      as->~AddressSpace();
      account->free_bytes(as, sizeof(AddressSpace));
    }
    return;
  }
  PLATYPOS_PANIC("release_space: process {:#x} has no address space", pid);
}

// This core's part: its ring, its stack (guard page below: left unmapped), its env as the program sees it.
Result<u64> map_core(AddressSpace& as, ring::Ring& ring, u64* env_user) {
  const u32 core = ring.program().index;
  abi::ProgramEnv& env_k = *ring.program().env;
  SpinGuard g(as.lock);
  const u64 ring_va = kUserRingBase + u64{core} * kUserRingStride;
  PLATYPOS_TRY(map_range(as, ring_va, kernel_phys(ring.header()), ring.region_bytes(), true));
  constexpr u32 kStackOrder = 4;
  static_assert((kPageSize << kStackOrder) == kUserStackBytes);
  const PhysAddr stack = PLATYPOS_TRY(as.account->alloc_pages(kStackOrder));
  const u64 top = kUserStackTop - u64{core} * kUserStackStride;
  PLATYPOS_TRY(map_range(as, top - kUserStackBytes, stack.value(), kUserStackBytes, true));
  // The env sits in the program's memory: rewrite it with the program's addresses (the kernel does not read it
  // after launch; the ring keeps its own kernel pointers).
  const auto in_memory = [&](const void* p) { return kUserMemoryBase + (static_cast<const u8*>(p) - as.memory); };
  *env_user = in_memory(&env_k);
  env_k.heap = reinterpret_cast<void*>(in_memory(ring.program().heap));
  env_k.memory = reinterpret_cast<void*>(kUserMemoryBase);
  env_k.ring = reinterpret_cast<abi::RingHeader*>(ring_va);
  // The hooks are the program's own (its start code fills them in); the kernel's would be kernel addresses.
  env_k.doorbell = nullptr;
  env_k.wait_completions = nullptr;
  env_k.syscall_ctx = nullptr;
  env_k.now_ns = nullptr;
  env_k.work_ns = nullptr;
  env_k.relax = nullptr;
  ring.set_user_base(kUserMemoryBase);
  return top;
}

UserThread* current_thread() { return static_cast<UserThread*>(this_cpu().user_thread); }

[[noreturn]] void leave(UserThread* t, Leave why) {
  PerCpu& cpu = this_cpu();
  cpu.in_user.store(false, std::memory_order_relaxed);
  cpu.trap_depth = t->trap_depth;
  platypos_leave_user(&t->ctx, static_cast<u64>(why));
}

// Interrupts off. Marks the CPU as running ring 3, then checks for a kill (in that order: cpu_wake() stores the
// kill before it looks at in_user, so one of the two sides sees the other).
void returning(UserThread* t) {
  this_cpu().in_user.store(true, std::memory_order_seq_cst);
  if (t->task->killed()) {
    g_kills.fetch_add(1, std::memory_order_relaxed);
    leave(t, Leave::killed);
  }
}

void report_fault(const UserThread& t, const sched::Process& p) {
  // One print: other CPUs' lines must not come in between.
  FormatBuffer<256> line;
  line.append("user: process {:#x} ({}) core {}: {} ({}) in ring 3 at rip {:#x}, rsp {:#x}", p.id(), p.name(), t.core,
              exception_mnemonic(t.vector), exception_name(t.vector), t.rip, t.rsp);
  if (t.vector == kVectorPageFault) {
    line.append(", address {:#x} ({}, {}{})", t.cr2, (t.error_code & 1) ? "protection violation" : "not mapped",
                (t.error_code & 2)    ? "write"
                : (t.error_code & 16) ? "instruction fetch"
                                      : "read",
                t.cr2 >= paging::kDirectMapBase ? ", kernel memory" : "");
  } else if (t.error_code != 0) {
    line.append(", error code {:#x}", t.error_code);
  }
  line.append("; killing the process\n");
  print("{}", line.view());
}

// The exit code of a process killed for an exception in ring 3: -(1000 + vector).
i64 fault_exit_code(u8 vector) { return -(1000 + static_cast<i64>(vector)); }

// The task body on each of a program's cores (the descriptor's main).
void program_main(const abi::ProgramEnv*) {
  sched::Scheduler& s = sched::scheduler();
  sched::Task* task = s.current();
  sched::Process& p = *task->process();
  // The ring and the core come from the task (kernel state), not from the env: other cores of the process may
  // already run in ring 3, free to rewrite it.
  auto* ring = static_cast<ring::Ring*>(task->arg());
  const u32 core = ring->program().index;
  if (task->killed()) return;
  auto as = acquire_space(p, *ring);
  if (as.is_error()) {
    log_warn("user: process {:#x} ({}): cannot set up its address space: {}", p.id(), p.name(), error_name(as.error()));
    (void)s.exit_process(p.id(), -static_cast<i64>(as.error()));  // ends this task
    return;
  }
  u64 env_user = 0;
  auto stack_top = map_core(**as, *ring, &env_user);
  if (stack_top.is_error()) {
    log_warn("user: process {:#x} ({}) core {}: cannot map its ring and stack: {}", p.id(), p.name(), core,
             error_name(stack_top.error()));
    release_space(p.id());
    (void)s.exit_process(p.id(), -static_cast<i64>(stack_top.error()));
    return;
  }

  UserThread t;
  t.ring = ring;
  t.task = task;
  t.core = core;
  const IrqState irq = Platform::irq_save();
  PerCpu& cpu = this_cpu();
  t.ctx.rsp0_slot = gdt::rsp0_slot();
  t.trap_depth = cpu.trap_depth;
  cpu.user_thread = &t;
  write_cr3((*as)->root);
  g_entries.fetch_add(1, std::memory_order_relaxed);
  u64 why = static_cast<u64>(Leave::killed);
  cpu.in_user.store(true, std::memory_order_seq_cst);
  if (!task->killed()) {
    why = platypos_enter_user(&t.ctx, (*as)->entry, *stack_top, env_user);
  } else {
    cpu.in_user.store(false, std::memory_order_relaxed);
  }
  // Back for good, on this task's kernel stack. The kernel's tables again before anything can free these.
  PerCpu& here = this_cpu();
  here.user_thread = nullptr;
  write_cr3(paging::kernel_root());
  Platform::irq_restore(irq);
  release_space(p.id());

  switch (static_cast<Leave>(why)) {
    case Leave::exited:
      // Returning from main ends this core's task (the process ends with its last one); a code other than 0 ends
      // the process with it.
      if (t.exit_code != 0) (void)s.exit_process(p.id(), t.exit_code);
      return;
    case Leave::killed: return;
    case Leave::faulted:
      g_faults.fetch_add(1, std::memory_order_relaxed);
      report_fault(t, p);
      (void)s.exit_process(p.id(), fault_exit_code(t.vector));  // ends this task too
      return;
  }
  PLATYPOS_PANIC("user: bad leave reason {}", why);
}

}  // namespace

void init_this_cpu() {
  wrmsr(kMsrEfer, rdmsr(kMsrEfer) | kEferSce);
  wrmsr(kMsrStar, (u64{gdt::kUserBase} << 48) | (u64{gdt::kKernelCode} << 32));
  wrmsr(kMsrLstar, reinterpret_cast<uptr>(platypos_syscall_entry));
  wrmsr(kMsrFmask, kFmask);
  wrmsr(kMsrKernelGsBase, 0);
}

void init() {
  if (g_clock_page != 0) return;
  const PhysAddr page = KernelMemory::instance()->pages().alloc(0).expect("user: the clock page");
  auto* clock = static_cast<UserClock*>(Platform::phys_to_virt(page.value()));
  for (usize i = 0; i < kPageSize / 8; ++i) static_cast<u64*>(static_cast<void*>(clock))[i] = 0;
  clock->ns_per_tsc_q32 = clock::ns_per_tsc_q32();
  clock->tsc_hz = clock::tsc_hz();
  g_clock_page = page.value();
  for (const UserImage& image : user_images()) {
    PLATYPOS_ASSERT(g_program_count < kMaxPrograms, "more than {} user programs", kMaxPrograms);
    g_descriptors[g_program_count] = abi::ProgramDescriptor{image.name, &program_main};
    g_descriptor_ptrs[g_program_count] = &g_descriptors[g_program_count];
    ++g_program_count;
  }
}

std::span<const abi::ProgramDescriptor* const> programs() { return {g_descriptor_ptrs, g_program_count}; }

void on_entry_from_user() { this_cpu().in_user.store(false, std::memory_order_relaxed); }

void on_return_to_user() {
  UserThread* t = current_thread();
  PLATYPOS_ASSERT(t != nullptr, "returning to ring 3 without a user thread");
  returning(t);
}

void on_user_exception(const TrapFrame& f) {
  UserThread* t = current_thread();
  PLATYPOS_ASSERT(t != nullptr, "exception {} in ring 3 without a user thread", f.vector);
  t->vector = static_cast<u8>(f.vector);
  t->error_code = f.error_code;
  t->rip = f.rip;
  t->rsp = f.rsp;
  t->cr2 = f.vector == kVectorPageFault ? read_cr2() : 0;
  leave(t, Leave::faulted);
}

Stats stats() {
  return {g_syscalls.load(std::memory_order_relaxed), g_entries.load(std::memory_order_relaxed),
          g_faults.load(std::memory_order_relaxed), g_kills.load(std::memory_order_relaxed)};
}

}  // namespace platypos::baremetal::user

using namespace platypos;
using namespace platypos::baremetal;

extern "C" void platypos_syscall_dispatch(TrapFrame* f) {
  user::on_entry_from_user();
  auto* t = static_cast<user::UserThread*>(this_cpu().user_thread);
  PLATYPOS_ASSERT(t != nullptr, "syscall without a user thread on cpu {}", Platform::current_cpu());
  user::g_syscalls.fetch_add(1, std::memory_order_relaxed);
  Platform::irq_enable();
  switch (f->rax) {
    case user_abi::kSysExit:
      Platform::irq_save();
      t->exit_code = static_cast<i64>(f->rdi);
      user::leave(t, user::Leave::exited);
    case user_abi::kSysDoorbell:
      t->ring->ring_doorbell();
      f->rax = 0;
      break;
    case user_abi::kSysWaitCompletions:
      t->ring->wait_for_completions(static_cast<u32>(f->rdi));
      f->rax = 0;
      break;
    case user_abi::kSysNop: f->rax = 0; break;
    default: f->rax = user_abi::kSysBadNumber; break;
  }
  (void)Platform::irq_save();
  // A dedicated core: the task blocked (if it did) and came back here.
  PLATYPOS_ASSERT(this_cpu().user_thread == t, "a user thread moved to another cpu");
  user::returning(t);
}
