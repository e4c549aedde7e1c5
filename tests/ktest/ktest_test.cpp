// ktest itself: the comparisons behind KEXPECT_*, test selection, and the registry. (That failures really fail a
// run is proven from outside, by the selftest suites and the harness tests that run them.)

#include <platypos/ktest/ktest.hpp>

namespace platypos {
namespace {

using ktest::TestCase;
using ktest::detail::Cmp;
using ktest::detail::compare;

KTEST(ktest, integers_compare_by_value_across_signedness) {
  KEXPECT_TRUE((compare<Cmp::eq>(u64{3}, 3)));
  KEXPECT_TRUE((compare<Cmp::lt>(-1, 0u)));  // plain -1 < 0u would be false
  KEXPECT_TRUE((compare<Cmp::gt>(u8{200}, i8{-1})));
  KEXPECT_TRUE((compare<Cmp::ne>(~u64{0}, -1)));
  KEXPECT_TRUE((compare<Cmp::le>(5, 5)));
  KEXPECT_TRUE((compare<Cmp::ge>(5, 5)));
  KEXPECT_FALSE((compare<Cmp::lt>(5, 5)));
  KEXPECT_FALSE((compare<Cmp::eq>(true, false)));
}

KTEST(ktest, strings_compare_by_content) {
  char buf[] = {'a', 'b', 'c', '\0'};
  const char* literal = "abc";
  KEXPECT_NE(static_cast<const void*>(buf), static_cast<const void*>(literal));
  KEXPECT_TRUE((compare<Cmp::eq>(buf, literal)));
  KEXPECT_TRUE((compare<Cmp::eq>(std::string_view("abc"), "abc")));
  KEXPECT_TRUE((compare<Cmp::lt>("abc", "abd")));
  KEXPECT_FALSE((compare<Cmp::eq>("abc", "ab")));
  const char* null = nullptr;
  KEXPECT_TRUE((compare<Cmp::eq>(null, nullptr)));  // a string and nullptr compare as pointers
}

KTEST(ktest, errors_and_enums) {
  KEXPECT_EQ(Error::not_found, Error::not_found);
  KEXPECT_NE(Error::not_found, Error::no_memory);
  KEXPECT_TRUE((compare<Cmp::lt>(Error::none, Error::no_memory)));
}

void empty_body() {}

KTEST(ktest, selection) {
  const TestCase normal{"alloc", "buddy_split", "f.cpp", 1, false, &empty_body};
  const TestCase explicit_only{"selftest", "fails", "f.cpp", 2, true, &empty_body};
  KEXPECT_TRUE(ktest::is_selected(normal, ""));
  KEXPECT_FALSE(ktest::is_selected(explicit_only, ""));
  KEXPECT_TRUE(ktest::is_selected(explicit_only, "selftest"));
  KEXPECT_TRUE(ktest::is_selected(explicit_only, "selftest.fails"));
  KEXPECT_TRUE(ktest::is_selected(normal, "alloc"));
  KEXPECT_TRUE(ktest::is_selected(normal, "alloc.buddy_split"));
  KEXPECT_TRUE(ktest::is_selected(normal, "other,alloc.buddy_split"));
  KEXPECT_TRUE(ktest::is_selected(normal, "alloc,other"));
  KEXPECT_FALSE(ktest::is_selected(normal, "all"));
  KEXPECT_FALSE(ktest::is_selected(normal, "alloc."));
  KEXPECT_FALSE(ktest::is_selected(normal, "alloc.buddy"));
  KEXPECT_FALSE(ktest::is_selected(normal, "alloc.buddy_split_more"));
  KEXPECT_FALSE(ktest::is_selected(normal, "buddy_split"));
  KEXPECT_FALSE(ktest::is_selected(normal, ","));
}

KTEST(ktest, registry_holds_every_test_once) {
  const ktest::TestList tests = ktest::registered_tests();
  usize self = 0;
  usize explicit_count = 0;
  for (const TestCase* t : tests) {
    KASSERT_NE(t, nullptr);
    KEXPECT_TRUE(t->body != nullptr);
    if (std::string_view(t->suite) == "ktest" && std::string_view(t->name) == "registry_holds_every_test_once") ++self;
    if (t->explicit_only) ++explicit_count;
  }
  KEXPECT_EQ(self, 1u);
  KEXPECT_GE(explicit_count, 1u);  // the selftest suites
  KEXPECT_GE(tests.size(), 10u);
}

}  // namespace
}  // namespace platypos
