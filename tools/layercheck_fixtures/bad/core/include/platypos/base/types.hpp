#pragma once
// Fixture: a freestanding base header.

#include <cstdint>
