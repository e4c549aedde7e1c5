#pragma once
// Fixture: sched on mm (fine).

#include <platypos/mm/alloc.hpp>
