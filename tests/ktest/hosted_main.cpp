// The hosted ktest binary: the ktest suites on the hosted Platform, as an ordinary Linux program.
//
//   platypos_ktest [ktest[=SUITE[.TEST][,...]]]
//
// The arguments use the kernel's command-line syntax, so a selection works the same in both places. Without one it
// runs every test (KTEST_EXPLICIT ones excepted). Exit status: 0 when at least one test ran and all passed, 1 when a
// test failed or nothing matched, 70 when a test panicked, 2 for bad arguments.

#include <platypos/base/cmdline.hpp>
#include <platypos/ktest/runner.hpp>
#include <platypos/platform.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace platypos;
  std::string text;
  for (int i = 1; i < argc; ++i) {
    text += argv[i];
    text += ' ';
  }
  const CommandLine cmdline(text);
  for (CommandLine::Word w : cmdline) {
    if (w.key != "ktest") {
      std::fprintf(stderr, "usage: %s [ktest[=SUITE[.TEST][,...]]]\n", argv[0]);
      return 2;
    }
  }
  const ktest::Summary summary = ktest::run(ktest::registered_tests(), cmdline.value("ktest").value_or(""));
  Platform::shutdown(ktest::exit_status(summary));
}
