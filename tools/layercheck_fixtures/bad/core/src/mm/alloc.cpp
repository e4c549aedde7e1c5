// Fixture: mm reaching up to sched and to the test framework. The include inside the block comment is not one.
#include <platypos/mm/alloc.hpp>
#include <platypos/sched/task.hpp>
/*
#include <platypos/ring/ring.hpp>
*/
#include <platypos/ktest/runner.hpp>
