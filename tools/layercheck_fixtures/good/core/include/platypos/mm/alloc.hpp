#pragma once
// Fixture: mm on sync.

#include <platypos/sync/spinlock.hpp>
