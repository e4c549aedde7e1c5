# Third-party dependencies of the hosted tree, found the ordinary way. A missing one stops configure with the name of
# the Debian package that provides it (./setup.sh installs them all).

function(platypos_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR
      "PlatypOS: ${what} not found. Install it with:\n"
      "    apt-get install -y --no-install-recommends ${package}\n"
      "or run ./setup.sh, which installs every dependency.")
  endif()
endfunction()

find_package(Threads REQUIRED)

find_package(Boost 1.74 QUIET COMPONENTS context)
platypos_require(Boost_CONTEXT_FOUND "Boost.Context" libboost-context-dev)

find_package(PkgConfig QUIET)
platypos_require(PKG_CONFIG_FOUND "pkg-config" pkg-config)
pkg_check_modules(liburing QUIET IMPORTED_TARGET liburing)
platypos_require(liburing_FOUND "liburing" liburing-dev)

find_package(spdlog QUIET CONFIG)
platypos_require(spdlog_FOUND "spdlog" libspdlog-dev)

find_package(GTest QUIET CONFIG)
platypos_require(GTest_FOUND "GoogleTest/GoogleMock" "libgtest-dev libgmock-dev")

find_package(benchmark QUIET CONFIG)
platypos_require(benchmark_FOUND "Google Benchmark" libbenchmark-dev)

find_package(CLI11 QUIET CONFIG)
platypos_require(CLI11_FOUND "CLI11" libcli11-dev)

find_package(nlohmann_json 3.2 QUIET CONFIG)
platypos_require(nlohmann_json_FOUND "nlohmann/json (JSON parser of the trace tests and platypos-bench-report)"
  nlohmann-json3-dev)
