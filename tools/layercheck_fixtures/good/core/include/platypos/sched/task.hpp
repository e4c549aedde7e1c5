#pragma once
// Fixture: sched on mm.

#include <platypos/mm/alloc.hpp>
