// Fixture: a new folder that nobody placed in the layer order.
#include <platypos/base/types.hpp>
