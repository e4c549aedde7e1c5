#pragma once
// Fixture: the platform includes base and the backend's header (not in the tree: still area platform).

#include <platypos/base/types.hpp>
#include <platypos/platform_impl.hpp>
