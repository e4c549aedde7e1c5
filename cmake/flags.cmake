# Compile flags of PlatypOS, as INTERFACE targets. Nothing here touches global CMAKE_*_FLAGS: a target gets a flag
# set by linking one of these.
#
#   platypos_common_flags   every target: C++20, warnings as errors, frame pointers (backtraces), sanitizers
#   platypos_kernel_flags   core/ and kernel code: no exceptions, no RTTI, no thread-safe statics, no stack
#                           protector; in the baremetal tree also the freestanding x86_64 kernel flags
#   platypos_host_flags     hosted-only code (backends/hosted, sim, tests, bench, tools): exceptions allowed

set(PLATYPOS_SANITIZE "" CACHE STRING "Sanitizers for the hosted tree: empty, 'address;undefined' or 'thread'")

add_library(platypos_common_flags INTERFACE)
target_compile_features(platypos_common_flags INTERFACE cxx_std_20)
target_compile_options(platypos_common_flags INTERFACE
  -Wall -Wextra -Werror
  -fno-omit-frame-pointer
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)

if(PLATYPOS_SANITIZE)
  if(PLATYPOS_BACKEND STREQUAL "baremetal")
    message(FATAL_ERROR "PLATYPOS_SANITIZE is for the hosted tree only")
  endif()
  list(JOIN PLATYPOS_SANITIZE "," _platypos_san)
  set(_platypos_san_flags -fsanitize=${_platypos_san} -fno-sanitize-recover=all)
  if("undefined" IN_LIST PLATYPOS_SANITIZE)
    # core has no RTTI, and the vptr check needs it.
    list(APPEND _platypos_san_flags -fno-sanitize=vptr)
  endif()
  target_compile_options(platypos_common_flags INTERFACE ${_platypos_san_flags})
  target_link_options(platypos_common_flags INTERFACE ${_platypos_san_flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's flow analysis sees through the sanitizers' instrumentation badly: with -fsanitize=address GCC 12 reports
    # -Wmaybe-uninitialized inside libstdc++'s own <regex> (GCC PR 105616). The plain builds keep the warning.
    target_compile_options(platypos_common_flags INTERFACE -Wno-maybe-uninitialized)
  endif()
  if("thread" IN_LIST PLATYPOS_SANITIZE)
    # The hosted backend annotates its context switches as TSan fibers (backends/hosted/src/context.cpp).
    target_compile_definitions(platypos_common_flags INTERFACE PLATYPOS_TSAN_FIBERS=1)
  endif()
endif()

# The fuzz preset instruments everything for coverage; only the fuzzer executables link libFuzzer's main.
option(PLATYPOS_FUZZ "Build the libFuzzer targets (clang only; preset `fuzz`)" OFF)
if(PLATYPOS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PLATYPOS_FUZZ needs clang (libFuzzer); use the `fuzz` preset")
  endif()
  target_compile_options(platypos_common_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()

add_library(platypos_kernel_flags INTERFACE)
target_link_libraries(platypos_kernel_flags INTERFACE platypos_common_flags)
target_compile_options(platypos_kernel_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics>
  -fno-stack-protector)

if(PLATYPOS_BACKEND STREQUAL "baremetal")
  # The flags ARCHITECTURE.md lists for the freestanding tree. -mgeneral-regs-only keeps the compiler from touching
  # SSE/x87 state, which the kernel does not save on interrupts; -mcmodel=kernel puts the image in the top 2 GiB.
  target_compile_options(platypos_kernel_flags INTERFACE
    -ffreestanding -nostdlib -mno-red-zone -mgeneral-regs-only -mcmodel=kernel
    -fno-pic -fno-pie -fno-asynchronous-unwind-tables -fno-builtin-malloc)
  target_link_options(platypos_kernel_flags INTERFACE -nostdlib -static -no-pie)
endif()

add_library(platypos_host_flags INTERFACE)
target_link_libraries(platypos_host_flags INTERFACE platypos_common_flags)
