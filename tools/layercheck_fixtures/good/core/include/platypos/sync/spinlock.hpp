#pragma once
// Fixture: what needs the Platform lives above it.

#include <platypos/base/types.hpp>
#include <platypos/platform.hpp>
