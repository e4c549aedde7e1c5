#include <platypos/base/print.hpp>
#include <platypos/ktest/expect.hpp>
#include <platypos/ktest/runner.hpp>

namespace platypos::ktest::detail {

void fail_comparison(const Site& site, const char* a_text, const char* op, const char* b_text, const FormatArg& a,
                     const FormatArg& b) {
  print("  {}:{}: {} failed: {} {} {}\n", site.file, site.line, site.macro, a_text, op, b_text);
  const FormatArg left[] = {FormatArg(a_text), a};
  vprint("    {}: {}\n", left, 2);
  const FormatArg right[] = {FormatArg(b_text), b};
  vprint("    {}: {}\n", right, 2);
  note_failure();
}

void fail_condition(const Site& site, const char* text, bool expected) {
  print("  {}:{}: {} failed: {} is {}\n", site.file, site.line, site.macro, text, !expected);
  note_failure();
}

void fail_result(const Site& site, const char* text, Error error) {
  print("  {}:{}: {} failed: {} holds error {}\n", site.file, site.line, site.macro, text, error);
  note_failure();
}

}  // namespace platypos::ktest::detail
