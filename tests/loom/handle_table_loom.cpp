#include "loom.hpp"
