#pragma once
// A ktest test case, and how KTEST registers it without global constructors.
//
//   KTEST(ring, wraps_around) { ... }             // runs with every `ktest` run
//   KTEST_EXPLICIT(selftest, fails) { ... }       // runs only when selected by name (`ktest=selftest`)
//
// Each KTEST defines its body as a function, a constexpr TestCase describing it, and a constinit pointer to that
// descriptor placed in the linker section `ktest_cases`. The linker gathers the pointers of every linked object
// into one array and defines __start_ktest_cases/__stop_ktest_cases around it: the hosted toolchain's default
// script does so for any section named like a C identifier, and kernel.ld KEEPs the section in .rodata. Pointers
// rather than the descriptors themselves go into the section: 8-byte objects are never padded or over-aligned by
// the compiler, so the section is a dense array.
//
// Use KTEST at namespace scope in a source file that is compiled into the program itself (an executable's own
// sources or an OBJECT library): from a static library the linker would drop the objects, since nothing refers to
// them by name. Suite and test names are C identifiers; the pair must be unique in the program (the runner checks).

#include <platypos/base/types.hpp>

#include <span>

namespace platypos::ktest {

struct TestCase {
  const char* suite;
  const char* name;
  const char* file;
  u32 line;
  bool explicit_only;  // skipped unless the selection names its suite or the test itself
  void (*body)();
};

using TestList = std::span<const TestCase* const>;

}  // namespace platypos::ktest

// Defined by the linker in a program that has at least one KTEST. Weak, so that a program without tests links too
// (both are then null: an empty list). Declarations only: nothing is initialized here.
// NOLINTNEXTLINE(bugprone-dynamic-static-initializers)
extern "C" [[gnu::weak]] const platypos::ktest::TestCase* const __start_ktest_cases[];
// NOLINTNEXTLINE(bugprone-dynamic-static-initializers)
extern "C" [[gnu::weak]] const platypos::ktest::TestCase* const __stop_ktest_cases[];

namespace platypos::ktest {

// Every test linked into this program, in link order. Inline, so the references to the section bounds are made by
// the program that calls it (its main), never by core's own objects: the bounds exist only in a fully linked
// program, and the freestanding link check links core alone.
inline TestList registered_tests() {
  if (__start_ktest_cases == nullptr) return {};
  return TestList(__start_ktest_cases, __stop_ktest_cases);
}

}  // namespace platypos::ktest

#define PLATYPOS_KTEST_DEFINE_(suite, name, explicit_only)                                               \
  static void ktest_body_##suite##_##name();                                                             \
  static constexpr ::platypos::ktest::TestCase ktest_case_##suite##_##name{                              \
      #suite, #name, __FILE__, __LINE__, explicit_only, &ktest_body_##suite##_##name};                   \
  [[gnu::section("ktest_cases"),                                                                         \
    gnu::used]] static constinit const ::platypos::ktest::TestCase* const ktest_entry_##suite##_##name = \
      &ktest_case_##suite##_##name;                                                                      \
  static void ktest_body_##suite##_##name()

#define KTEST(suite, name) PLATYPOS_KTEST_DEFINE_(suite, name, false)
#define KTEST_EXPLICIT(suite, name) PLATYPOS_KTEST_DEFINE_(suite, name, true)
