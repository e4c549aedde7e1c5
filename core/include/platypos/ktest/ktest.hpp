#pragma once
// ktest, the in-kernel test framework (one framework, both backends). Test files include this header:
//
//   #include <platypos/ktest/ktest.hpp>
//
//   KTEST(spinlock, try_lock_fails_when_held) {
//     SpinLock lock;
//     lock.lock();
//     KEXPECT_FALSE(lock.try_lock());
//     lock.unlock();
//   }
//
// test_case.hpp: KTEST / KTEST_EXPLICIT and the registry; expect.hpp: KEXPECT_* / KASSERT_*; runner.hpp: running.

#include <platypos/ktest/expect.hpp>
#include <platypos/ktest/runner.hpp>
#include <platypos/ktest/test_case.hpp>
