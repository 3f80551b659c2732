#!/usr/bin/env bash
# Runs every test of nthgrad: builds and installs the package (reusing
# build/wheel, so a second run only recompiles what changed), builds the C++
# tests against the installed package, and runs CTest, which runs the C++
# unit tests, the find_package consumer in examples/cpp, and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

"$PYTHON" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
  -Cbuild-dir=build/wheel .

cmake -S tests -B build/tests -G Ninja \
  -Dnthgrad_DIR="$("$PYTHON" -m nthgrad --cmakedir)" \
  -DPython_EXECUTABLE="$(command -v "$PYTHON")" > build/tests-configure.log
cmake --build build/tests
ctest --test-dir build/tests --output-on-failure "$@"
