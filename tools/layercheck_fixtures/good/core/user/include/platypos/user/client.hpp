#pragma once
// Fixture: the user runtime on the ABI and base/types.hpp.

#include <platypos/abi/ring.hpp>
#include <platypos/base/types.hpp>
