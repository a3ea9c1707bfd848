#!/usr/bin/env bash
# The whole test suite, as CI runs it: a warnings-as-errors build with every
# test, then the same suite built with AddressSanitizer + UndefinedBehavior-
# Sanitizer, the multi-threaded part of it built with ThreadSanitizer, and
# every libFuzzer target (clang) run for a bounded time from its seed corpus.
# Network-namespace tests need root and are skipped without it.
#
# MESHPROBE_FUZZ_SECONDS: how long each fuzz target runs (default 60).
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

echo "== build with TSan"
# What runs on more than one thread: the DNS lookup pool (probes/detail/
# resolver), the Kubernetes worker pools (kube/client/worker_pool, kube/
# connection), the agent runtime around them, and the processes of the
# e2e tests. -O0 as for ASan: TSan's compile cost, not its run time, is what
# counts on 2 cores. Every target is built, so a new test binary is never
# silently left out of the labels below.
cmake -S . -B build-tsan -G Ninja -DMESHPROBE_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
  -DMESHPROBE_SANITIZE=thread >/dev/null
cmake --build build-tsan
echo "== tests under TSan"
# Labels with threads in them; `unit` is pure single-threaded parsing, `deploy`
# checks files, `lab` and `stress` are minutes of waiting on the same paths.
# The C++ tests carry these labels as before test/ followed the rooms (e.g.
# test/unit/config's web config tests are `agent`), beside their room's.
# Reports go to files (log_path), so a race in an agent that an e2e script
# started and killed fails the run too. halt_on_error stops the racing process
# at its first report. A test is retried once: sanitizer slowness can break a
# timing bound (the plain build runs every test without retry); a race
# leaves its report behind either way.
# No ASLR (setarch -R): the TSan runtime of g++ 12 cannot map its shadow
# with the higher mmap randomization some kernels use.
tsan_reports=$(mktemp -d /tmp/meshprobe-tsan.XXXXXX)
no_aslr=()
if setarch "$(uname -m)" -R true 2>/dev/null; then no_aslr=(setarch "$(uname -m)" -R); fi
tsan_rc=0
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4:log_path=$tsan_reports/report" \
  "${no_aslr[@]}" ctest --test-dir build-tsan "${ctest_args[@]}" --repeat until-pass:2 \
  --label-regex '^(probe|agent|kube|cli|netns|e2e)$' || tsan_rc=$?
if compgen -G "$tsan_reports/report*" >/dev/null; then
  echo "ThreadSanitizer reported:" >&2
  cat "$tsan_reports"/report* >&2
  exit 1
fi
rm -rf "$tsan_reports"
[ "$tsan_rc" -eq 0 ] || exit "$tsan_rc"

echo "== build the fuzz targets (clang, libFuzzer + ASan + UBSan)"
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DMESHPROBE_FUZZ=ON -DMESHPROBE_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target fuzzers
echo "== fuzzing"
test/fuzz/run.sh build-fuzz "${MESHPROBE_FUZZ_SECONDS:-60}"
