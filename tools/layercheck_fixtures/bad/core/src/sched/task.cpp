// Fixture: a backend header (area not in the order) and a relative include of a later area's header.
#include <platypos/hosted/machine.hpp>
#include <platypos/sched/task.hpp>

#include "../../include/platypos/ring/ring.hpp"
