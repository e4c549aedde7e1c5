#pragma once
// Fixture: ktest on the platform and sync only.

#include <platypos/platform.hpp>
#include <platypos/sync/spinlock.hpp>
