#include <platypos/base/intrusive_list.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace platypos {
namespace {

struct RunTag;
struct AllTag;

struct Item : ListNode<RunTag>, ListNode<AllTag> {
  explicit Item(int v) : value(v) {}
  int value;
};

using RunList = IntrusiveList<Item, RunTag>;
using AllList = IntrusiveList<Item, AllTag>;

std::vector<int> values(const RunList& l) {
  std::vector<int> out;
  for (const Item& i : l) out.push_back(i.value);
  return out;
}

TEST(IntrusiveList, PushPopOrder) {
  Item a(1), b(2), c(3);
  RunList l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.front(), nullptr);
  EXPECT_EQ(l.pop_front(), nullptr);
  l.push_back(a);
  l.push_back(b);
  l.push_front(c);
  EXPECT_EQ(values(l), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.front(), &c);
  EXPECT_EQ(l.back(), &b);
  EXPECT_EQ(l.pop_back(), &b);
  EXPECT_EQ(l.pop_front(), &c);
  EXPECT_EQ(l.pop_front(), &a);
  EXPECT_TRUE(l.empty());
  EXPECT_FALSE(static_cast<ListNode<RunTag>&>(a).is_linked());
}

TEST(IntrusiveList, RemoveFromMiddleAndInsertBefore) {
  Item a(1), b(2), c(3), d(4);
  RunList l;
  l.push_back(a);
  l.push_back(b);
  l.push_back(c);
  l.remove(b);
  EXPECT_EQ(values(l), (std::vector<int>{1, 3}));
  l.insert_before(c, d);
  EXPECT_EQ(values(l), (std::vector<int>{1, 4, 3}));
  EXPECT_EQ(l.next(a), &d);
  EXPECT_EQ(l.prev(a), nullptr);
  EXPECT_EQ(l.next(c), nullptr);
  EXPECT_TRUE(l.contains(d));
  EXPECT_FALSE(l.contains(b));
  l.clear();
  EXPECT_TRUE(l.empty());
}

TEST(IntrusiveList, OneObjectOnTwoListsOfDifferentTags) {
  Item a(1), b(2);
  RunList run;
  AllList all;
  all.push_back(a);
  all.push_back(b);
  run.push_back(b);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(run.size(), 1u);
  run.remove(b);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_TRUE(static_cast<ListNode<AllTag>&>(b).is_linked());
  all.clear();
}

using IntrusiveListDeathTest = ::testing::Test;

TEST_F(IntrusiveListDeathTest, DoubleInsertPanics) {
  EXPECT_DEATH(
      {
        Item a(1);
        RunList l;
        l.push_back(a);
        l.push_back(a);
      },
      "linking an element that is already on a list");
}

TEST_F(IntrusiveListDeathTest, RemovingUnlinkedPanics) {
  EXPECT_DEATH(
      {
        Item a(1);
        RunList l;
        l.remove(a);
      },
      "removing an element that is not on a list");
}

TEST_F(IntrusiveListDeathTest, DestroyingLinkedElementPanics) {
  EXPECT_DEATH(
      {
        RunList l;
        {
          Item a(1);
          l.push_back(a);
        }
      },
      "destroying an object that is still on a list");
}

}  // namespace
}  // namespace platypos
