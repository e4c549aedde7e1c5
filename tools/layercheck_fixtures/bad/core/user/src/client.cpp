// Fixture: the user runtime may include the ABI and base/types.hpp, not the rest of base.
#include <platypos/abi/ring.hpp>
#include <platypos/base/lock.hpp>
#include <platypos/base/types.hpp>
