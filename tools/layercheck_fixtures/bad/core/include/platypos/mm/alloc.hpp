#pragma once
// Fixture: mm on base only.

#include <platypos/base/types.hpp>
