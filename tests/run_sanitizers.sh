#!/usr/bin/env bash
# Runs the whole test suite (C++ tests, the find_package consumer, pytest)
# against a Debug build of nthgrad instrumented with AddressSanitizer and
# UndefinedBehaviorSanitizer. Exits non-zero on any sanitizer report (every
# report aborts the process that made it) or test failure.
#
# It never touches the normal install: the package is built in
# build/asan-wheel and installed with --target into build/asan-site (put on
# PYTHONPATH only here), the C++ tests are built in build/asan-tests.
# Too slow for CI (see docs/architecture.md section 7), so not in run_all.sh.
#
#   PYTHON=/path/to/python bash tests/run_sanitizers.sh [pytest args...]
#
# Without pytest args, the shortened training runs of the examples (marked
# `training`) are left out: at -O0 with ASan they take hours (the dab_sort one
# alone did not finish in 40 minutes). Pass args (even `-m ""`) to choose.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
CXX=${CXX:-c++}
# float-cast-overflow is not part of GCC's -fsanitize=undefined; we want it
# (float to int conversions out of range are UB). Recovery off: a report fails.
SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"
SITE="$PWD/build/asan-site"

# A Python interpreter is not built with ASan, so the runtime must be
# preloaded before it starts (and only into processes that load nthgrad).
ASAN_LIB=$("$CXX" -print-file-name=libasan.so)
UBSAN_LIB=$("$CXX" -print-file-name=libubsan.so)
[[ "$ASAN_LIB" == /* && "$UBSAN_LIB" == /* ]] || { echo "$CXX has no libasan/libubsan" >&2; exit 2; }
# detect_leaks=0: CPython does not free everything at exit.
# allocator_may_return_null=1: a huge allocation returns NULL (our tests check
# it becomes a MemoryError) instead of ASan aborting.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# nthgrad's cache of freed buffers would hide a use after free from ASan: off.
export NTHGRAD_CACHE_BYTES=0

"$PYTHON" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
rm -rf "$SITE"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps --target "$SITE" \
  -Cbuild-dir=build/asan-wheel -Ccmake.build-type=Debug "-Ccmake.define.CMAKE_CXX_FLAGS=$SAN" .

cmake -S tests -B build/asan-tests -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS=$SAN" \
  -Dnthgrad_DIR="$SITE/nthgrad/lib/cmake/nthgrad" \
  -DPython_EXECUTABLE="$(command -v "$PYTHON")" > build/asan-tests-configure.log
cmake --build build/asan-tests
# The C++ tests and the consumer are linked with the sanitizers themselves.
ctest --test-dir build/asan-tests --output-on-failure -E '^python\.'
# pytest, with the runtimes preloaded and the instrumented package first on the path.
[[ $# -gt 0 ]] || set -- -m "not training"
PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" \
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/python "$@"
echo "run_sanitizers: no sanitizer report, all tests passed"
