// Fixture: the user runtime's own headers.
#include <platypos/user/client.hpp>
