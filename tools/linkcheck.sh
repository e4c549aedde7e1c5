#!/usr/bin/env bash
# The freestanding link check: links static archives (core and the freestanding runtime) into one image with
# -nostdlib, and fails if the image needs anything a kernel does not have.
#
#   linkcheck.sh --cxx g++ --allow 'platypos::hosted::' --image out.o [--expect-fail REGEX] lib.a...
#
# The only undefined symbols allowed are those under the --allow prefix (the backend's Platform implementation).
# Anything else fails, and the known culprits get named: exception support (__cxa_*), std::__throw_* helpers,
# malloc/free, operator new/delete, the stack protector, TLS helpers. Sections that run global constructors or
# destructors (.init_array, .ctors, ...) fail too: the kernel has no global constructors.
#
# With --expect-fail REGEX the check is inverted, for testing the checker itself: it passes only if the image is
# rejected with a report matching REGEX.
set -euo pipefail

cxx=c++ nm=nm readelf=readelf allow="" image="" expect_fail=""
archives=()
while (($#)); do
  case $1 in
    --cxx) cxx=$2; shift 2 ;;
    --nm) nm=$2; shift 2 ;;
    --readelf) readelf=$2; shift 2 ;;
    --allow) allow=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --expect-fail) expect_fail=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "linkcheck: unknown option $1" >&2; exit 2 ;;
    *) archives+=("$1"); shift ;;
  esac
done
[[ -n $image && -n $allow && ${#archives[@]} -gt 0 ]] || { echo "linkcheck: need --image, --allow and archives" >&2; exit 2; }

check() {
  local fail=0
  "$cxx" -nostdlib -r -o "$image" -Wl,--whole-archive "${archives[@]}" -Wl,--no-whole-archive

  local sym name why
  while read -r sym; do
    [[ -z $sym ]] && continue
    name=$(printf '%s\n' "$sym" | c++filt)
    [[ $name == "$allow"* ]] && continue
    [[ $sym == _GLOBAL_OFFSET_TABLE_ ]] && continue
    case $name in
      __cxa_*|__gxx_personality*|_Unwind_*) why="exception/ABI runtime support (a throw, a static with a destructor, a pure virtual?)" ;;
      std::__throw_*) why="a standard-library call that throws (at(), a container, std::function?)" ;;
      malloc|calloc|realloc|free|aligned_alloc|posix_memalign) why="heap allocation (use an allocator from core/mm)" ;;
      "operator new"*|"operator delete"*) why="global new/delete (use make<T>/destroy from the slab allocator, or placement new)" ;;
      __stack_chk_fail|__stack_chk_guard) why="stack protector (core builds with -fno-stack-protector)" ;;
      __tls_get_addr|__dso_handle|__cxa_atexit) why="C++ runtime support a kernel does not have" ;;
      *) why="defined neither in core nor in the freestanding runtime" ;;
    esac
    echo "linkcheck: FORBIDDEN undefined symbol: $name  -- $why"
    fail=1
  done < <("$nm" -u "$image" | awk '{print $NF}')

  local sections
  sections=$("$readelf" -S -W "$image" | grep -oE '\.(init_array|preinit_array|fini_array|ctors|dtors)[^ ]*' | sort -u || true)
  if [[ -n $sections ]]; then
    echo "linkcheck: FORBIDDEN sections (global constructors/destructors): $(echo $sections)"
    fail=1
  fi
  if ((fail == 0)); then
    local n_allowed
    n_allowed=$("$nm" -u "$image" | awk '{print $NF}' | c++filt | grep -c "^$allow" || true)
    echo "linkcheck: OK: ${archives[*]##*/} link with -nostdlib; $n_allowed undefined symbols, all in $allow"
  fi
  return $fail
}

if [[ -z $expect_fail ]]; then
  check
else
  set +e
  out=$(check 2>&1)
  rc=$?
  set -e
  printf '%s\n' "$out"
  if ((rc == 0)); then
    echo "linkcheck: expected the check to fail (matching '$expect_fail'), but it passed"
    exit 1
  fi
  if ! grep -qE -- "$expect_fail" <<<"$out"; then
    echo "linkcheck: the check failed, but not with a report matching '$expect_fail'"
    exit 1
  fi
  echo "linkcheck: rejected as expected"
fi
