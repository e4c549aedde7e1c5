#pragma once
// Fixture: base reaching up to the Platform (what sync/ is for). The commented-out include below is not one.
// #include <platypos/ring/ring.hpp>

#include <platypos/base/types.hpp>
#include <platypos/platform.hpp>
