#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, each from a copy of its seed
# corpus (test/fuzz/corpus/<target>/), so nothing is written into the
# repository. Fails on any crash, leak, timeout or out-of-memory; the input
# that caused it is kept (and its path printed) for a regression entry.
# Prints the executions each target ran.
#
#   test/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]
#
# FUZZ_WORK_DIR: where the corpus copies and crash artifacts go (default: a
# new temporary directory, removed after a clean run).
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:?usage: $0 BUILD_DIR [SECONDS_PER_TARGET]}
seconds=${2:-60}
targets=(config ca_bundle go_verify http_head h2_frame grpc_reply target_url kube_objects http_server)

work=${FUZZ_WORK_DIR:-$(mktemp -d /tmp/meshprobe-fuzz.XXXXXX)}
mkdir -p "$work"

# Per-target libFuzzer options beyond the common ones: dictionaries of the
# formats' words; http_server has room for oversized headers well past the
# server's 8 KiB limit.
declare -A extra=(
  [http_server]="-max_len=20000 -dict=test/fuzz/http_server.dict"
  [kube_objects]="-max_len=16384 -dict=test/fuzz/kube_objects.dict"
  [go_verify]="-max_len=8192"
  [grpc_reply]="-max_len=20000"
)

failed=()
summary=()
for target in "${targets[@]}"; do
  binary=$build/test/fuzz/fuzz_$target
  corpus=$work/corpus/$target
  artifacts=$work/artifacts/$target
  log=$work/$target.log
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp -r test/fuzz/corpus/"$target"/. "$corpus"/
  echo "-- fuzz_$target: ${seconds}s from $(find "$corpus" -type f | wc -l) seeds"
  rc=0
  # -timeout: one input taking longer is a hang. Memory: heap_bound.cpp
  # traps once the live heap passes MESHPROBE_FUZZ_HEAP_MB (and the input is
  # saved at once); -rss_limit_mb, above it, is only a backstop, since on
  # tripping libFuzzer first walks the whole heap for minutes. `timeout`
  # bounds the whole run whatever happens. Seeds are run first: a
  # regression entry that crashes again fails at once.
  # shellcheck disable=SC2086  # extra options split on purpose
  MESHPROBE_FUZZ_HEAP_MB=1536 ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    timeout -k 10 $((seconds + 120)) \
    "$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" ${extra[$target]:-} \
      "$corpus" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  if [ "$rc" -ne 0 ]; then
    failed+=("$target")
    summary+=("fuzz_$target: FAILED (exit $rc) after ${runs:-?} executions")
    echo "fuzz_$target failed (exit $rc); the last of its log ($log):" >&2
    tail -n 60 "$log" >&2
    find "$artifacts" -type f -printf '  crashing input kept: %p\n' >&2
  else
    summary+=("fuzz_$target: ${runs:-?} executions in ${seconds}s, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) inputs")
  fi
done

echo "== fuzzing summary"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs and logs kept in $work)" >&2
  exit 1
fi
[ -n "${FUZZ_WORK_DIR:-}" ] || rm -rf "$work"
