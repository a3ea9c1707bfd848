#!/usr/bin/env bash
# The whole test suite, as CI runs it: a warnings-as-errors build with every
# test, then the same suite built with AddressSanitizer + UndefinedBehavior-
# Sanitizer. Network-namespace tests need root and are skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."

ctest_args=(--output-on-failure --timeout 120)

echo "== build (warnings are errors)"
cmake -S . -B build -G Ninja -DMESHPROBE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
echo "== tests"
ctest --test-dir build "${ctest_args[@]}"

echo "== build with ASan + UBSan"
# -O0: sanitizer builds of Asio coroutine code are three times slower at -O1.
cmake -S . -B build-asan -G Ninja -DMESHPROBE_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
  -DMESHPROBE_SANITIZE=address,undefined >/dev/null
cmake --build build-asan
echo "== tests under ASan + UBSan"
# The lab's scenarios drive the same code paths as the netns and e2e tests
# (which do run here) through minutes of waiting; they run once, above.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan "${ctest_args[@]}" --label-exclude lab
