#include <platypos/base/assert.hpp>
#include <platypos/base/print.hpp>
#include <platypos/base/units.hpp>
#include <platypos/ktest/runner.hpp>
#include <platypos/platform.hpp>

namespace platypos::ktest {
namespace {

// The run in progress, for note_failure() and the panic hook. One run at a time, on one CPU.
struct RunState {
  const TestCase* current = nullptr;
  u32 current_failures = 0;
  u32 selected = 0;
  Summary summary;
  bool active = false;
};

constinit RunState g_run;

// (string_view's substr() and find() can throw or call memchr, neither of which the kernel has: slice by hand.)
bool names(std::string_view pattern, const TestCase& test) {
  const std::string_view suite(test.suite);
  if (pattern == suite) return true;
  const usize n = suite.size();
  return pattern.size() > n + 1 && std::string_view(pattern.data(), n) == suite && pattern[n] == '.' &&
         std::string_view(pattern.data() + n + 1, pattern.size() - n - 1) == std::string_view(test.name);
}

bool same_file(const TestCase& a, const TestCase& b) { return std::string_view(a.file) == b.file; }

// Calls fn(test) for every test in source order: files in link order, tests of one file by line. (The entries of
// one object file are contiguous in the section, but compilers emit them in any order, GCC in reverse.)
template <class Fn>
void for_each_in_source_order(TestList tests, Fn&& fn) {
  for (usize begin = 0; begin < tests.size();) {
    usize end = begin + 1;
    while (end < tests.size() && same_file(*tests[begin], *tests[end])) ++end;
    u32 last_line = 0;
    for (usize left = end - begin; left > 0; --left) {
      const TestCase* next = nullptr;
      for (usize i = begin; i < end; ++i) {
        if (tests[i]->line > last_line && (next == nullptr || tests[i]->line < next->line)) next = tests[i];
      }
      if (next == nullptr) break;  // two tests on one line: a duplicate name, reported by check_unique()
      last_line = next->line;
      fn(*next);
    }
    begin = end;
  }
}

bool same_name(const TestCase& a, const TestCase& b) {
  return std::string_view(a.suite) == b.suite && std::string_view(a.name) == b.name;
}

void print_summary() {
  const u32 not_run = g_run.selected - g_run.summary.passed - g_run.summary.failed;
  if (not_run > 0) {
    print("ktest: {} passed, {} failed ({} not run)\n", g_run.summary.passed, g_run.summary.failed, not_run);
  } else {
    print("ktest: {} passed, {} failed\n", g_run.summary.passed, g_run.summary.failed);
  }
}

// Runs on the panicking CPU, after the panic report, before the machine stops.
void on_panic() {
  if (!g_run.active) return;
  if (g_run.current != nullptr) {
    print("[  FAILED  ] {}.{} (panicked)\n", g_run.current->suite, g_run.current->name);
    ++g_run.summary.failed;
    g_run.current = nullptr;
  }
  print_summary();
}

// Reports tests that share a suite and name; returns how many duplicates there are.
u32 check_unique(TestList tests) {
  u32 duplicates = 0;
  for (usize i = 0; i < tests.size(); ++i) {
    for (usize j = i + 1; j < tests.size(); ++j) {
      if (same_name(*tests[i], *tests[j])) {
        print("ktest: error: two tests named {}.{} ({}:{} and {}:{})\n", tests[i]->suite, tests[i]->name,
              tests[i]->file, tests[i]->line, tests[j]->file, tests[j]->line);
        ++duplicates;
      }
    }
  }
  return duplicates;
}

}  // namespace

bool is_selected(const TestCase& test, std::string_view selection) {
  if (selection.empty()) return !test.explicit_only;
  const char* p = selection.data();
  const char* const end = p + selection.size();
  while (p <= end) {
    const char* comma = p;
    while (comma < end && *comma != ',') ++comma;
    if (names(std::string_view(p, static_cast<usize>(comma - p)), test)) return true;
    p = comma + 1;
  }
  return false;
}

Summary run(TestList tests, std::string_view selection) {
  PLATYPOS_ASSERT(!g_run.active, "ktest::run is not reentrant");
  g_run = RunState{};
  for (const TestCase* t : tests) {
    if (is_selected(*t, selection)) ++g_run.selected;
  }
  const std::string_view shown = selection.empty() ? std::string_view("all") : selection;
  print("ktest: running {} of {} tests (selection: {})\n", g_run.selected, tests.size(), shown);

  const u32 duplicates = check_unique(tests);
  if (g_run.selected == 0) print("ktest: error: no test matches the selection '{}'\n", shown);

  g_run.active = true;
  const PanicHook previous_hook = set_panic_hook(&on_panic);
  for_each_in_source_order(tests, [&](const TestCase& test) {
    if (!is_selected(test, selection)) return;
    const TestCase* t = &test;
    g_run.current = t;
    g_run.current_failures = 0;
    print("[ RUN      ] {}.{}\n", t->suite, t->name);
    const u64 start = Platform::now_ns();
    t->body();
    const u64 ms = (Platform::now_ns() - start) / kNsPerMs;
    if (g_run.current_failures == 0) {
      ++g_run.summary.passed;
      print("[       OK ] {}.{} ({} ms)\n", t->suite, t->name, ms);
    } else {
      ++g_run.summary.failed;
      print("[  FAILED  ] {}.{} ({} ms)\n", t->suite, t->name, ms);
    }
    g_run.current = nullptr;
  });
  set_panic_hook(previous_hook);
  g_run.active = false;

  g_run.summary.failed += duplicates;
  g_run.selected += duplicates;
  print_summary();
  return g_run.summary;
}

ExitStatus exit_status(const Summary& summary) {
  return summary.failed == 0 && summary.passed > 0 ? ExitStatus::success : ExitStatus::failure;
}

namespace detail {
void note_failure() {
  PLATYPOS_ASSERT(g_run.current != nullptr, "a KEXPECT/KASSERT check failed outside a running ktest");
  ++g_run.current_failures;
}
}  // namespace detail

}  // namespace platypos::ktest
