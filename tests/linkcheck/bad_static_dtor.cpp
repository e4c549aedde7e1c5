// Must be rejected by the link check: a function-local static with a destructor registers it with __cxa_atexit.
struct WithDtor {
  ~WithDtor();
  int v = 1;
};
WithDtor::~WithDtor() { v = 0; }
int platypos_linkcheck_bad_static() {
  static WithDtor w;
  return w.v;
}
