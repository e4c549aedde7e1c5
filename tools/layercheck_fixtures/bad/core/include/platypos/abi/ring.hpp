#pragma once
// Fixture: the ABI includes nothing of the kernel, not even base.

#include <platypos/base/types.hpp>

#include <cstdint>
