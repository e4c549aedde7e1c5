// Must not compile with core's flags (-fno-exceptions).
void platypos_linkcheck_bad_throw() { throw 1; }
