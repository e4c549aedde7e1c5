// Fixture: mm with trace points, and a private header of its own area.
#include <platypos/mm/alloc.hpp>
#include <platypos/trace/trace.hpp>

#include "alloc_internal.hpp"
