// Files end to end in hosted threads mode: a program given a directory handle (a fresh host directory) creates,
// writes, syncs, reads and sizes files beneath it through the ring; what lies outside the directory (absolute paths,
// "..", links that lead out) is refused; malformed entries and missing rights get their status; and nothing stays
// open (host descriptors, requests, objects) afterwards, also when the program dies with transfers in flight.

#include <platypos/cap/process_object.hpp>
#include <platypos/cap/wait.hpp>
#include <platypos/hosted/uring_net.hpp>
#include <platypos/io/file.hpp>
#include <platypos/user/context.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "raw_op.hpp"
#include "ring_world.hpp"

namespace platypos::ring {
namespace {

using testing::RingWorld;
using user::Context;
using user::Handle;
using user::Status;
using user::Task;

constexpr std::uint64_t kRead = abi::kOpenRead, kWrite = abi::kOpenWrite, kCreate = abi::kOpenCreate,
                        kExcl = abi::kOpenExclusive, kTrunc = abi::kOpenTruncate, kDir = abi::kOpenDirectory;

char pattern(std::uint64_t i) { return static_cast<char>('a' + (i * 7919) % 26); }

// Writes all of `bytes` at `offset`, however short each write is.
Task<bool> write_all(Context& cx, Handle f, std::uint64_t offset, std::span<const char> bytes) {
  std::uint64_t done = 0;
  while (done < bytes.size()) {
    auto n = co_await cx.write_at(f, offset + done, bytes.subspan(done));
    if (!n || *n == 0) co_return false;
    done += *n;
  }
  co_return true;
}

// Create, write (more than one transfer moves), sync, size, read back; exclusive create; subdirectories; types.
Task<int> file_basic_main(Context& cx) {
  if (cx.initial_handles().size() != 1) co_return 10;
  const Handle root = cx.initial_handles()[0];
  auto f = co_await cx.open_at(root, "data.bin", kWrite | kRead | kCreate | kExcl);
  if (!f) co_return 11;
  // 3 MiB: a write of 2 MiB moves at most kMaxFileTransfer (1 MiB) and says so.
  constexpr std::uint64_t kBytes = 3u << 20;
  char* big = static_cast<char*>(cx.heap().alloc(kBytes));
  if (big == nullptr) co_return 12;
  for (std::uint64_t i = 0; i < kBytes; ++i) big[i] = pattern(i);
  auto first = co_await cx.write_at(*f, 0, {big, 2u << 20});
  if (!first || *first != abi::kMaxFileTransfer) co_return 13;
  if (!co_await write_all(cx, *f, *first, {big + *first, kBytes - *first})) co_return 14;
  if (!co_await cx.sync(*f)) co_return 15;
  auto size = co_await cx.size(*f);
  if (!size || *size != kBytes) co_return 16;
  (void)co_await cx.close(*f);
  cx.heap().free(big, kBytes);
  // Again, exclusively: it is there.
  auto again = co_await cx.open_at(root, "data.bin", kWrite | kCreate | kExcl);
  if (again || again.status() != Status::already_exists) co_return 17;
  // Read back through a read-only handle, in pieces that straddle the transfer limit.
  auto r = co_await cx.open_at(root, "data.bin", kRead);
  if (!r) co_return 18;
  char* back = static_cast<char*>(cx.heap().alloc(kBytes));
  if (back == nullptr) co_return 19;
  std::uint64_t got = 0;
  while (got < kBytes) {
    auto n = co_await cx.read_at(*r, got, {back + got, static_cast<std::size_t>(kBytes - got)});
    if (!n || *n == 0 || *n > abi::kMaxFileTransfer) co_return 20;
    got += *n;
  }
  for (std::uint64_t i = 0; i < kBytes; ++i)
    if (back[i] != pattern(i)) co_return 21;
  char tail[16];
  auto eof = co_await cx.read_at(*r, kBytes, tail);
  if (!eof || *eof != 0) co_return 22;
  auto past = co_await cx.read_at(*r, kBytes + 4096, tail);
  if (!past || *past != 0) co_return 23;
  // Truncate.
  auto t = co_await cx.open_at(root, "data.bin", kWrite | kTrunc);
  if (!t) co_return 24;
  auto zero = co_await cx.size(*r);
  if (!zero || *zero != 0) co_return 25;
  (void)co_await cx.close(*t);
  (void)co_await cx.close(*r);
  // A subdirectory the host made: opened as a directory, and files beneath it either way.
  auto sub = co_await cx.open_at(root, "sub", kDir);
  if (!sub) co_return 26;
  auto inner = co_await cx.open_at(*sub, "note.txt", kRead);
  if (!inner) co_return 27;
  char note[32] = {};
  auto nn = co_await cx.read_at(*inner, 0, note);
  if (!nn || std::string_view(note, *nn) != "beneath\n") co_return 28;
  auto deep = co_await cx.open_at(root, "sub/note.txt", kRead);
  if (!deep) co_return 29;
  // Types: a directory is not a file, a file not a directory; a missing one is not found.
  auto d_as_f = co_await cx.open_at(root, "sub", kRead);
  if (d_as_f || d_as_f.status() != Status::wrong_type) co_return 30;
  auto f_as_d = co_await cx.open_at(root, "sub/note.txt", kDir);
  if (f_as_d || f_as_d.status() != Status::wrong_type) co_return 31;
  auto fifo = co_await cx.open_at(root, "pipe", kRead);  // only regular files: not a FIFO (nor a device)
  if (fifo || fifo.status() != Status::wrong_type) co_return 35;
  auto missing = co_await cx.open_at(root, "nope.txt", kRead);
  if (missing || missing.status() != Status::not_found) co_return 32;
  // A link that stays beneath the directory is followed.
  auto in = co_await cx.open_at(root, "inside-link", kRead);
  if (!in) co_return 33;
  auto in_n = co_await cx.read_at(*in, 0, note);
  if (!in_n || std::string_view(note, *in_n) != "beneath\n") co_return 34;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-file-basic", file_basic_main);

// Ways out of the directory, each refused with its status; none opens anything.
Task<int> file_escape_main(Context& cx) {
  const Handle root = cx.initial_handles()[0];
  struct Case {
    std::string_view path;
    Status status;
  };
  static constexpr char kNul[] = {'a', '\0', 'b'};
  const Case cases[] = {
      {"../outside.txt", Status::access_denied},       // up and out
      {"sub/../../outside.txt", Status::access_denied},
      {"sub/../sub/note.txt", Status::access_denied},  // ".." at all, even one that would stay inside
      {"/etc/passwd", Status::access_denied},          // absolute
      {"out-link", Status::access_denied},             // a link to the directory's parent's file
      {"abs-link", Status::access_denied},             // a link to an absolute path
      {"dir-link/outside.txt", Status::access_denied}, // a link to the parent directory
      {".", Status::invalid_argument},
      {"sub/./note.txt", Status::invalid_argument},
      {"sub//note.txt", Status::invalid_argument},
      {"sub/", Status::invalid_argument},
      {{kNul, sizeof kNul}, Status::invalid_argument},
  };
  int i = 0;
  for (const Case& c : cases) {
    auto h = co_await cx.open_at(root, c.path, kRead);
    if (h || h.status() != c.status) co_return 40 + i;
    ++i;
  }
  // A component longer than 255 bytes; a path longer than kMaxPathBytes (the entry's limit).
  std::string longname(256, 'x');
  auto ln = co_await cx.open_at(root, longname, kRead);
  if (ln || ln.status() != Status::invalid_argument) co_return 70;
  std::string longpath;
  while (longpath.size() <= abi::kMaxPathBytes) longpath += "abcdefg/";
  longpath += "f";
  auto lp = co_await cx.open_at(root, longpath, kRead);
  if (lp || lp.status() != Status::invalid_argument) co_return 71;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-file-escape", file_escape_main);

// Rights and malformed entries, raw: each its status, nothing changed.
using testing::raw;
using testing::st;

Task<int> file_hostile_main(Context& cx) {
  using abi::Op;
  const Handle root = cx.initial_handles()[0];
  // (In program memory: the heap's, not the test binary's data.)
  constexpr std::string_view kName = "sub/note.txt";
  char* name = static_cast<char*>(cx.heap().alloc(kName.size()));
  for (std::size_t i = 0; i < kName.size(); ++i) name[i] = kName[i];
  const auto path = reinterpret_cast<std::uint64_t>(name);
  const std::uint32_t plen = static_cast<std::uint32_t>(kName.size());
  // Flags: unknown, none, create without write, exclusive without create, directory with more.
  if (co_await raw(cx, Op::file_open_at, root.value, path, plen, 64) != st(Status::invalid_argument)) co_return 80;
  if (co_await raw(cx, Op::file_open_at, root.value, path, plen, 0) != st(Status::invalid_argument)) co_return 81;
  if (co_await raw(cx, Op::file_open_at, root.value, path, plen, kRead | kCreate) != st(Status::invalid_argument))
    co_return 82;
  if (co_await raw(cx, Op::file_open_at, root.value, path, plen, kWrite | kExcl) != st(Status::invalid_argument))
    co_return 83;
  if (co_await raw(cx, Op::file_open_at, root.value, path, plen, kDir | kRead) != st(Status::invalid_argument))
    co_return 84;
  if (co_await raw(cx, Op::file_open_at, root.value, path, 0, kRead) != st(Status::invalid_argument)) co_return 85;
  if (co_await raw(cx, Op::file_open_at, root.value, path, plen, kRead, 1) != st(Status::invalid_argument))
    co_return 86;  // arg1 unused
  if (co_await raw(cx, Op::file_open_at, root.value, 8, plen, kRead) != st(Status::out_of_range)) co_return 87;
  // A read-only directory handle opens to read, not to write or create.
  auto ro = co_await cx.duplicate(root, abi::rights::read | abi::rights::duplicate);
  if (!ro) co_return 88;
  if (co_await raw(cx, Op::file_open_at, ro->value, path, plen, kWrite) != st(Status::access_denied)) co_return 89;
  auto ok_ro = co_await cx.open_at(*ro, "sub/note.txt", kRead);
  if (!ok_ro) co_return 90;
  // A write-only directory handle does not open to read.
  auto wo = co_await cx.duplicate(root, abi::rights::write);
  if (!wo || co_await raw(cx, Op::file_open_at, wo->value, path, plen, kRead) != st(Status::access_denied))
    co_return 91;
  // File rights: a read-only file neither writes nor syncs; a write-only one does not read. Size needs none.
  char buf[64];
  const auto at = reinterpret_cast<std::uint64_t>(buf);
  if (co_await raw(cx, Op::file_write_at, ok_ro->value, at, 4, 0) != st(Status::access_denied)) co_return 92;
  if (co_await raw(cx, Op::file_sync, ok_ro->value) != st(Status::access_denied)) co_return 93;
  auto w = co_await cx.open_at(root, "w.txt", kWrite | kCreate);
  if (!w) co_return 94;
  if (co_await raw(cx, Op::file_read_at, w->value, at, 4, 0) != st(Status::access_denied)) co_return 95;
  if (co_await raw(cx, Op::file_size, w->value) != 0) co_return 96;
  // Offsets: offset + length past kMaxFileOffset, or wrapping around.
  if (co_await raw(cx, Op::file_read_at, ok_ro->value, at, 4, ~std::uint64_t{0}) != st(Status::out_of_range))
    co_return 97;
  if (co_await raw(cx, Op::file_write_at, w->value, at, 4, abi::kMaxFileOffset - 2) != st(Status::out_of_range))
    co_return 98;
  // Buffers outside the program's memory; wrong object types.
  const auto mem = reinterpret_cast<std::uint64_t>(cx.env().memory);
  const std::uint64_t end = mem + cx.env().memory_bytes;
  if (co_await raw(cx, Op::file_read_at, ok_ro->value, end - 8, 64, 0) != st(Status::out_of_range)) co_return 99;
  if (co_await raw(cx, Op::file_write_at, w->value, 8, 64, 0) != st(Status::out_of_range)) co_return 100;
  if (co_await raw(cx, Op::file_read_at, root.value, at, 4, 0) != st(Status::wrong_type)) co_return 101;
  if (co_await raw(cx, Op::file_open_at, ok_ro->value, path, plen, kRead) != st(Status::wrong_type)) co_return 102;
  // Nothing above changed anything: the file still reads as the host wrote it, w.txt is empty.
  auto n = co_await cx.read_at(*ok_ro, 0, buf);
  if (!n || std::string_view(buf, *n) != "beneath\n") co_return 103;
  auto ws = co_await cx.size(*w);
  if (!ws || *ws != 0) co_return 104;
  co_return 0;
}
PLATYPOS_USER_PROGRAM("t-file-hostile", file_hostile_main);

// Dies with transfers in flight: a megabyte read and a sync parked on the device when the process exits.
Task<int> file_abandon_main(Context& cx) {
  const Handle root = cx.initial_handles()[0];
  auto f = co_await cx.open_at(root, "big.bin", kRead | kWrite | kCreate);
  if (!f) co_return 110;
  static char chunk[1 << 16];
  for (std::uint64_t off = 0; off < (4u << 20); off += sizeof chunk)
    if (!co_await write_all(cx, *f, off, chunk)) co_return 111;
  char* out = static_cast<char*>(cx.heap().alloc(abi::kMaxFileTransfer));
  for (int i = 0; i < 8; ++i) {
    cx.spawn([](Context& c, Handle h, char* o, int k) -> Task<void> {
      (void)co_await c.read_at(h, std::uint64_t(k) << 19, {o, abi::kMaxFileTransfer});
    }(cx, *f, out, i));
    cx.spawn([](Context& c, Handle h) -> Task<void> { (void)co_await c.sync(h); }(cx, *f));
    cx.spawn([](Context& c, Handle d, int k) -> Task<void> {
      std::string name = "new-" + std::to_string(k);
      (void)co_await c.open_at(d, name, abi::kOpenWrite | abi::kOpenCreate);
    }(cx, root, i));
  }
  (void)co_await cx.sleep(1);  // the entries go out; the kernel has them
  cx.exit(7);
}
PLATYPOS_USER_PROGRAM("t-file-abandon", file_abandon_main);

// A second core rewrites the path while the first opens it: "sub/note.txt" (allowed) and "sub/../x.txt" (refused by
// the kernel for its "..", though the host would resolve it beneath the directory). The kernel copies the path once
// and checks and uses that copy, so every open either reads note.txt or is access_denied: never x.txt, which a
// kernel that checked one read of the path and opened another would reach. (Torn copies, a mix of both, name nothing
// that exists: not_found.)
struct RaceShared {
  char path[12];
  std::atomic<int> stop{0};
  std::atomic<int> ready{0};
};
Task<int> file_race_main(Context& cx) {
  auto published = [&] {
    auto* env0 = static_cast<abi::ProgramEnv*>(cx.env().memory);
    return std::atomic_ref<std::uint64_t>(env0->program_word);
  };
  if (cx.env().core_index == 1) {
    while (published().load(std::memory_order_acquire) == 0) cx.env().relax();
    auto* sh = reinterpret_cast<RaceShared*>(published().load(std::memory_order_acquire));
    constexpr std::string_view a = "sub/note.txt", b = "sub/../x.txt";
    sh->ready.store(1);
    for (std::uint64_t i = 0; sh->stop.load(std::memory_order_relaxed) == 0; ++i) {
      const std::string_view p = (i & 1) != 0 ? a : b;
      for (std::size_t k = 0; k < p.size(); ++k)
        std::atomic_ref<char>(sh->path[k]).store(p[k], std::memory_order_relaxed);
    }
    co_return 0;
  }
  const Handle root = cx.initial_handles()[0];
  auto* sh = cx.heap().make<RaceShared>();
  if (sh == nullptr) co_return 120;
  for (std::size_t k = 0; k < 12; ++k) sh->path[k] = "sub/note.txt"[k];
  published().store(reinterpret_cast<std::uint64_t>(sh), std::memory_order_release);
  while (sh->ready.load() == 0) (void)co_await cx.sleep(10'000);
  int opened = 0, denied = 0, code = 0;
  char buf[16];
  for (int i = 0; i < 2000 && code == 0; ++i) {
    abi::Sqe s{};
    s.opcode = static_cast<std::uint8_t>(abi::Op::file_open_at);
    s.handle = root.value;
    s.addr = reinterpret_cast<std::uint64_t>(sh->path);
    s.len = 12;
    s.arg0 = kRead;
    auto r = co_await user::Operation<std::int64_t>(cx, s, &testing::raw_result);
    if (!r) {
      // (A copy taken mid-rewrite mixes the two: "sub/no/x.txt" and the like, which do not exist.)
      if (r.status() == Status::access_denied) {
        ++denied;
      } else if (r.status() != Status::not_found) {
        code = 121;
      }
      continue;
    }
    const Handle f{static_cast<std::uint32_t>(*r)};
    auto n = co_await cx.read_at(f, 0, buf);
    if (!n || std::string_view(buf, *n) != "beneath\n") code = 122;  // x.txt: checked one path, opened another
    ++opened;
    (void)co_await cx.close(f);
  }
  sh->stop.store(1);  // (the other core makes no system call: it stops only when told)
  // Both must have happened for the race to have been run at all.
  if (code == 0 && (opened == 0 || denied == 0)) code = 123;
  co_return code;
}
PLATYPOS_USER_PROGRAM("t-file-race", file_race_main);

int count_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

// A fresh host directory laid out for the programs: sub/note.txt, outside.txt next to the directory (in its
// parent), links in and out.
struct Sandbox {
  std::filesystem::path parent, root;
  Sandbox() {
    char tmpl[] = "/tmp/platypos-file-test-XXXXXX";
    parent = mkdtemp(tmpl);
    root = parent / "root";
    std::filesystem::create_directories(root / "sub");
    std::ofstream(root / "sub" / "note.txt") << "beneath\n";
    std::ofstream(parent / "outside.txt") << "secret\n";
    std::filesystem::create_symlink("sub/note.txt", root / "inside-link");
    std::filesystem::create_symlink("../outside.txt", root / "out-link");
    std::filesystem::create_symlink((parent / "outside.txt").string(), root / "abs-link");
    std::filesystem::create_symlink("..", root / "dir-link");
    std::ofstream(root / "x.txt") << "dotdot\n";  // reachable as "sub/../x.txt", which the kernel refuses
    mkfifo((root / "pipe").c_str(), 0644);
  }
  ~Sandbox() { std::filesystem::remove_all(parent); }
};

struct FileRun {
  i64 exit_code = -1;
};

FileRun run_files(const char* program, const Sandbox& box, u64 memory = 16 * MiB, u32 cores = 1) {
  FileRun out;
  RingWorld w(4, 1, 7, RingWorld::Mode::threads);
  hosted::UringNet dev(1);
  w.runtime().set_net(dev.device());
  w.runtime().set_files(dev.files());
  const u64 node = hosted::UringNet::open_directory(box.root.c_str()).expect("root");
  struct Ctx {
    RingWorld* w;
    FileRun* out;
    const char* program;
    const hosted::UringNet* dev;
    u64 node;
    u64 memory;
    u32 cores;
  } ctx{&w, &out, program, &dev, node, memory, cores};
  w.scheduler()
      .create_task(
          sched::kNoProcess, "supervisor",
          [](void* a) {
            auto* c = static_cast<Ctx*>(a);
            Runtime& rt = c->w->runtime();
            rt.start(1).expect("ring servers");
            auto dir = io::FileObject::create(nullptr, c->dev->files(), cap::ObjectType::directory, c->node)
                           .expect("directory");
            cap::Capability caps[1] = {
                {dir.leak(), cap::Rights::read | cap::Rights::write | cap::Rights::duplicate, 0}};
            auto p = rt.launch({.program = c->program, .cores = c->cores, .memory_bytes = c->memory}, caps).expect("launch");
            (void)cap::wait_signals(*p, cap::kSignalExited, 0);
            c->out->exit_code = p->exit_code();
            p.reset();
            RingWorld::finish(rt);
          },
          &ctx)
      .expect("supervisor");
  w.simulate();
  return out;
}

class FileHosted : public ::testing::Test {
 protected:
  void SetUp() override {
    fds_before_ = count_fds();
    objects_before_ = cap::KernelObject::live_objects();
  }
  void TearDown() override {
    EXPECT_EQ(io::FileRequest::in_flight(), 0u);
    EXPECT_EQ(cap::KernelObject::live_objects(), objects_before_);
    EXPECT_EQ(count_fds(), fds_before_) << "host descriptors left open";
  }
  int fds_before_ = 0;
  u64 objects_before_ = 0;
};

TEST_F(FileHosted, AProgramCreatesWritesSyncsAndReadsBackFilesBeneathItsDirectory) {
  Sandbox box;
  EXPECT_EQ(run_files("t-file-basic", box).exit_code, 0);
  // The host sees what the program wrote, and then truncated.
  EXPECT_TRUE(std::filesystem::exists(box.root / "data.bin"));
  EXPECT_EQ(std::filesystem::file_size(box.root / "data.bin"), 0u);
}

TEST_F(FileHosted, PathsOutOfTheDirectoryAreRefused) {
  Sandbox box;
  EXPECT_EQ(run_files("t-file-escape", box).exit_code, 0);
}

TEST_F(FileHosted, MalformedEntriesAndMissingRightsGetTheirStatusAndChangeNothing) {
  Sandbox box;
  EXPECT_EQ(run_files("t-file-hostile", box).exit_code, 0);
  std::ifstream note(box.root / "sub" / "note.txt");
  std::stringstream ss;
  ss << note.rdbuf();
  EXPECT_EQ(ss.str(), "beneath\n");
}

TEST_F(FileHosted, APathASecondCoreRewritesIsCheckedAndOpenedFromOneCopy) {
  Sandbox box;
  EXPECT_EQ(run_files("t-file-race", box, 16 * MiB, 2).exit_code, 0);
}

TEST_F(FileHosted, AProgramThatDiesWithTransfersInFlightLeaksNothing) {
  Sandbox box;
  EXPECT_EQ(run_files("t-file-abandon", box).exit_code, 7);
}

}  // namespace
}  // namespace platypos::ring
