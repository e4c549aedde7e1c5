// Must be rejected by the link check: a standard-library member that throws (std::array::at).
#include <array>
int platypos_linkcheck_bad_at(const std::array<int, 4>& a, unsigned long i) { return a.at(i); }
