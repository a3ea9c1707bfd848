#!/usr/bin/env bash
# The benchmark harness still runs end to end and prints every figure: a run
# of bench/run.sh at toy sizes (every section's knobs, sections 7 and 8's
# too, or a machine with nginx runs them at full size). Nothing here judges a figure's value (speed
# targets live in the harness, not in tests) except that the scale run's
# probes all succeeded and every figure is a number.
#
#   harness_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

rc=0
BENCH_IDLE_SECONDS=1 BENCH_SCALE_TARGETS=200 BENCH_SCALE_SECONDS=2 \
  BENCH_TCP_PROBES=200 BENCH_TLS_PROBES=50 BENCH_BLACKBOX_PROBES=5 \
  BENCH_RESUME_PROBES=20 BENCH_RESUME_BLOCKS=1 \
  BENCH_AGENT_SECONDS=1 BENCH_AGENT_BLOCKS=1 BENCH_AGENT_TLS_TARGETS=20 \
  BENCH_AGENT_TCP_TARGETS=50 BENCH_AGENT_RAW_TLS=20 BENCH_AGENT_RAW_TCP=500 \
  bash "$repo/bench/run.sh" "$build" >"$out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then cat "$out"; echo "FAIL: bench/run.sh exited $rc"; exit 1; fi

expected=(tcp_probe_ratio tls_probe_ratio idle_rss_kb idle_cpu_percent
          idle_floor_rss_kb idle_floor_cxx_rss_kb scale_probe_rate_per_s
          scale_cpu_percent scale_rss_kb scale_lateness_p50_s scale_lateness_p99_s
          metrics_scrape_ms metrics_bytes metrics_serialize_ms timing_worst_error_ms)
if command -v prometheus-blackbox-exporter >/dev/null; then
  expected+=(blackbox_over_meshprobe_tcp blackbox_over_meshprobe_tls_ca)
fi
# Sections 7 and 8 need nginx (not among CI's packages): judged where it is.
if command -v nginx >/dev/null; then
  expected+=(resumption_go_rsa_server_ratio resumption_go_rsa_resumed_over_full
             agent_over_raw_tls agent_over_raw_tls_paced agent_over_raw_resumed
             agent_over_raw_resumed_paced agent_over_raw_tcp)
fi
failed=0
for name in "${expected[@]}"; do
  value=$(sed -n "s/^BENCH $name=//p" "$out")
  if ! [[ "$value" =~ ^-?[0-9]*\.?[0-9]+$ ]]; then
    echo "FAIL: BENCH $name is '${value}', not a number"; failed=1
  fi
done
scale_failed=$(sed -n 's/^BENCH scale_failed_probes=//p' "$out")
if [ "$scale_failed" != 0 ]; then
  echo "FAIL: $scale_failed probes of the scale run failed"; failed=1
fi
if [ "$failed" -ne 0 ]; then cat "$out"; exit 1; fi
echo "ok: ${#expected[@]} figures"
