#pragma once
// Fixture: the ABI, standalone.

#include <cstdint>
