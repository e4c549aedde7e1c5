// Must be rejected by the link check: a global whose constructor runs at startup (.init_array).
int platypos_linkcheck_compute();
struct Counter {
  Counter() : value(platypos_linkcheck_compute()) {}
  int value;
};
Counter platypos_linkcheck_counter;
int platypos_linkcheck_compute() { return 7; }
