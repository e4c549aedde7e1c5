// Must be rejected by the link check: global operator new.
int* platypos_linkcheck_bad_new() { return new int(42); }
