#pragma once
// Fixture: the platform includes base and the backend's header (not in the tree: still area platform).

#include <platypos/platform_impl.hpp>
#include <platypos/platform_types.hpp>
