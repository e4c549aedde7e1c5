// CommandLine (core/base/cmdline.hpp): how the kernel reads its -append text.

#include <platypos/base/cmdline.hpp>
#include <platypos/ktest/ktest.hpp>

namespace platypos {
namespace {

KTEST(cmdline, splits_words_keys_and_values) {
  const CommandLine cl("  ktest=interrupts,platform   verbose empty= \t last=x=y ");
  CommandLine::Word words[8];
  usize n = 0;
  for (CommandLine::Word w : cl) {
    KASSERT_LT(n, 8u);
    words[n++] = w;
  }
  KASSERT_EQ(n, 4u);
  KEXPECT_EQ(words[0].key, "ktest");
  KEXPECT_EQ(words[0].value, "interrupts,platform");
  KEXPECT_TRUE(words[0].has_value);
  KEXPECT_EQ(words[1].key, "verbose");
  KEXPECT_FALSE(words[1].has_value);
  KEXPECT_EQ(words[2].key, "empty");
  KEXPECT_TRUE(words[2].has_value);
  KEXPECT_EQ(words[2].value, "");
  KEXPECT_EQ(words[3].key, "last");
  KEXPECT_EQ(words[3].value, "x=y");  // only the first '=' separates
}

KTEST(cmdline, lookups) {
  const CommandLine cl("ktest=a.b verbose crash=panic ktest=second");
  KEXPECT_TRUE(cl.has("ktest"));
  KEXPECT_TRUE(cl.has("verbose"));
  KEXPECT_FALSE(cl.has("verb"));
  KEXPECT_FALSE(cl.has("a.b"));
  KASSERT_OK(cl.value("ktest"));
  KEXPECT_EQ(cl.value("ktest").value(), "a.b");  // the first one wins
  KEXPECT_EQ(cl.value("crash").value(), "panic");
  KEXPECT_EQ(cl.value("verbose").error_or_none(), Error::not_found);  // a bare key has no value
  KEXPECT_EQ(cl.value("missing").error_or_none(), Error::not_found);
}

KTEST(cmdline, empty_and_blank_text_have_no_words) {
  KEXPECT_TRUE(CommandLine("").empty());
  KEXPECT_TRUE(CommandLine(" \t  ").empty());
  KEXPECT_FALSE(CommandLine(" x ").empty());
  KEXPECT_FALSE(CommandLine("").has(""));
}

}  // namespace
}  // namespace platypos
