#pragma once
// Fixture: ring on sched (fine).

#include <platypos/sched/task.hpp>
