# PlatypOS tasks. `just --list` shows them; README.md explains them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list --unsorted

# Build both trees: hosted (build/hosted) and bare-metal kernel (build/baremetal)
build:
    @just _build hosted
    @just _build baremetal

# Build both trees, then run every test (unit, link checks, ...) through ctest
test: build
    ctest --preset hosted

# Build and test the hosted tree under AddressSanitizer + UndefinedBehaviorSanitizer
test-asan:
    @just _build hosted-asan
    ctest --preset hosted-asan

# Reformat every C++ source with .clang-format
fmt:
    git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

# Check formatting (changes nothing) and run clang-tidy on core/ (.clang-tidy)
lint:
    git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format --dry-run --Werror
    @just _build hosted
    git ls-files 'core/src/*.cpp' | xargs clang-tidy -p build/hosted --quiet
    @echo "lint: clean"

# Remove every build folder
clean:
    rm -rf build

# Configure a preset's build folder if needed, then build it
_build preset:
    @[ -f build/{{preset}}/CMakeCache.txt ] || cmake --preset {{preset}}
    cmake --build --preset {{preset}}
