#pragma once
// Fixture: the platform's shared types, on base.

#include <platypos/base/types.hpp>
