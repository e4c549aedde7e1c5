// Must be rejected by the link check: the C heap.
#include <cstdlib>
void* platypos_linkcheck_bad_malloc(unsigned long n) { return std::malloc(n); }
