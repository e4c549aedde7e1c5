#pragma once
// Fixture: trace on sync.

#include <platypos/sync/spinlock.hpp>
