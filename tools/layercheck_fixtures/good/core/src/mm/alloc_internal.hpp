#pragma once
// Fixture: a private header, reached by a relative include.

#include <platypos/mm/alloc.hpp>
