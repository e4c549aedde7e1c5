#pragma once
// Coroutine synchronization inside one program core. A Context runs its coroutines one at a time on its own core, so
// nothing here needs a lock: these only park a coroutine until another one (on the same Context) says so.

#include <platypos/user/context.hpp>

#include <coroutine>

namespace platypos::examples {

// A flag one coroutine waits for and others set. At most one waiter at a time (a second one is a program bug and
// ends the program). Not copyable or movable: a parked waiter points into it.
class Event {
 public:
  explicit Event(user::Context& cx) : cx_(&cx) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const { return set_; }
  // Sets the flag and makes the waiter (if any) ready; it runs in the executor's next pass.
  void set() {
    set_ = true;
    if (waiting_) {
      waiting_ = false;
      cx_->schedule(&node_);
    }
  }
  void reset() { set_ = false; }

  struct Awaiter {
    Event* e;
    bool await_ready() const noexcept { return e->set_; }
    void await_suspend(std::coroutine_handle<> h) {
      if (e->waiting_) e->cx_->fatal("Event: two coroutines wait on one event");
      e->node_.handle = h;
      e->waiting_ = true;
    }
    void await_resume() const noexcept {}
  };
  Awaiter operator co_await() { return Awaiter{this}; }

 private:
  user::Context* cx_;
  user::detail::Resumable node_;
  bool set_ = false;
  bool waiting_ = false;
};

}  // namespace platypos::examples
