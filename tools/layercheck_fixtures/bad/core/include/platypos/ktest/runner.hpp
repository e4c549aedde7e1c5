#pragma once
// Fixture: ktest may include only base, platform and sync: not the scheduler.

#include <platypos/platform.hpp>
#include <platypos/sched/task.hpp>
