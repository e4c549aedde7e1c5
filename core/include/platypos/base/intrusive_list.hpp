#pragma once
// An intrusive, circular, doubly linked list: the links live inside the elements, so putting an object on a list
// never allocates and removal is O(1) given the object.
//
//   struct Task : ListNode<RunQueueTag>, ListNode<AllTasksTag> { ... };
//   IntrusiveList<Task, RunQueueTag> run_queue;
//
// An element inherits one ListNode<Tag> per list it can be on at the same time. Invariants: a node is either
// unlinked (both links null) or on exactly one list of its tag; linking a linked node or unlinking an unlinked one is
// a bug and panics. The list does not own its elements. A list is not copyable or movable (the elements point at its
// sentinel); it must be empty when destroyed.
//
//        sentinel <-> a <-> b <-> c <-> (back to sentinel)

#include <platypos/base/assert.hpp>
#include <platypos/base/types.hpp>

namespace platypos {

struct DefaultListTag;

template <class Tag = DefaultListTag>
class ListNode {
 public:
  ListNode() = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;
  ~ListNode() { PLATYPOS_ASSERT(!is_linked(), "destroying an object that is still on a list"); }

  bool is_linked() const { return next_ != nullptr; }

 private:
  template <class, class>
  friend class IntrusiveList;
  ListNode* prev_ = nullptr;
  ListNode* next_ = nullptr;
};

template <class T, class Tag = DefaultListTag>
class IntrusiveList {
  using Node = ListNode<Tag>;

 public:
  IntrusiveList() { sentinel_.prev_ = sentinel_.next_ = &sentinel_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() {
    PLATYPOS_ASSERT(empty(), "destroying a list with {} elements still linked", size_);
    sentinel_.prev_ = sentinel_.next_ = nullptr;
  }

  bool empty() const { return size_ == 0; }
  usize size() const { return size_; }

  T* front() const { return empty() ? nullptr : to_elem(sentinel_.next_); }
  T* back() const { return empty() ? nullptr : to_elem(sentinel_.prev_); }

  void push_front(T& e) { link_after(&sentinel_, node(e)); }
  void push_back(T& e) { link_after(sentinel_.prev_, node(e)); }
  // Inserts `e` just before `pos`, which must be on this list.
  void insert_before(T& pos, T& e) { link_after(node(pos)->prev_, node(e)); }

  T* pop_front() {
    if (empty()) return nullptr;
    T* e = to_elem(sentinel_.next_);
    remove(*e);
    return e;
  }
  T* pop_back() {
    if (empty()) return nullptr;
    T* e = to_elem(sentinel_.prev_);
    remove(*e);
    return e;
  }

  // Unlinks `e`, which must be on this list (checking that would cost O(n); a linked node of another list with the
  // same tag corrupts both lists' sizes).
  void remove(T& e) {
    Node* n = node(e);
    PLATYPOS_ASSERT(n->is_linked(), "removing an element that is not on a list");
    PLATYPOS_ASSERT(size_ > 0, "removing from an empty list");
    n->prev_->next_ = n->next_;
    n->next_->prev_ = n->prev_;
    n->prev_ = n->next_ = nullptr;
    --size_;
  }

  // Next/previous element, or nullptr at the end.
  T* next(const T& e) const {
    Node* n = node(const_cast<T&>(e))->next_;
    return n == &sentinel_ ? nullptr : to_elem(n);
  }
  T* prev(const T& e) const {
    Node* n = node(const_cast<T&>(e))->prev_;
    return n == &sentinel_ ? nullptr : to_elem(n);
  }

  // O(n): for assertions and tests.
  bool contains(const T& e) const {
    for (const T& x : *this)
      if (&x == &e) return true;
    return false;
  }

  void clear() {
    while (pop_front() != nullptr) {
    }
  }

  class Iterator {
   public:
    explicit Iterator(Node* n) : n_(n) {}
    T& operator*() const { return *to_elem(n_); }
    T* operator->() const { return to_elem(n_); }
    Iterator& operator++() {
      n_ = n_->next_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return n_ == o.n_; }

   private:
    Node* n_;
  };
  // Removing the element an iterator points at invalidates that iterator (use pop_front or next() to drain).
  Iterator begin() const { return Iterator(sentinel_.next_); }
  Iterator end() const { return Iterator(&sentinel_); }

 private:
  static Node* node(T& e) { return static_cast<Node*>(&e); }
  static T* to_elem(Node* n) { return static_cast<T*>(n); }

  void link_after(Node* pos, Node* n) {
    PLATYPOS_ASSERT(!n->is_linked(), "linking an element that is already on a list");
    n->prev_ = pos;
    n->next_ = pos->next_;
    pos->next_->prev_ = n;
    pos->next_ = n;
    ++size_;
  }

  mutable Node sentinel_;
  usize size_ = 0;
};

}  // namespace platypos
