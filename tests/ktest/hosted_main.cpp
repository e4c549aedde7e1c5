// The hosted ktest binary: the ktest suites on the hosted Platform, as an ordinary Linux program.
//
//   platypos_ktest [ktest[=SUITE[.TEST][,...]]]
//
// The arguments use the kernel's command-line syntax, so a selection works the same in both places. Without one it
// runs every test (KTEST_EXPLICIT ones excepted). Exit status: 0 when at least one test ran and all passed, 1 when a
// test failed or nothing matched, 70 when a test panicked, 2 for bad arguments. Like the kernel, it first sets up
// its physical memory (a 256 MiB hosted machine) and the allocators over it, which the mm suite tests.

#include <platypos/base/cmdline.hpp>
#include <platypos/hosted/machine.hpp>
#include <platypos/ktest/runner.hpp>
#include <platypos/mm/kernel_memory.hpp>
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
  // Boot what the kernel boots before its tests: a machine with memory, and the allocators over it. The tests run
  // on the machine's CPU 0, as they do in the kernel.
  hosted::Machine machine({.cpus = 1, .memory_bytes = 256ull << 20});
  KernelMemory memory(DirectMap(reinterpret_cast<uptr>(Platform::phys_to_virt(0))));
  memory.init(Platform::boot_memory_map()).expect("ktest: physical memory");
  const std::string selection(cmdline.value("ktest").value_or(""));
  machine.run([&](CpuId) {
    const ktest::Summary summary = ktest::run(ktest::registered_tests(), selection);
    Platform::shutdown(ktest::exit_status(summary));
  });
  return 1;  // not reached: shutdown() exits
}
