#!/usr/bin/env bash
# meshprobe's benchmark harness: every figure of the performance targets in
# one run, as a table and as one machine-readable `BENCH name=value` line each.
#
#   bench/run.sh [BUILD_DIR]        (default: build; build it first)
#
# Environment: BENCH_IDLE_SECONDS (60), BENCH_SCALE_TARGETS (10000),
# BENCH_SCALE_SECONDS (30), BENCH_TCP_PROBES (10000), BENCH_TLS_PROBES (2000),
# BENCH_BLACKBOX_PROBES (1000), BENCH_RESUME_PROBES (1000), BENCH_RESUME_BLOCKS (3)
# (bench/resumption.sh), BENCH_AGENT_SECONDS (15), BENCH_AGENT_BLOCKS (3)
# (bench/agent_cpu.sh). bench/kube_requests.sh (10 minutes) runs alone. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MESHPROBE=$BUILD/agent/meshprobe
TESTPEER=$BUILD/test/support/meshprobe-testpeer
PROBES=$BUILD/bench/meshprobe-bench-probes
METRICS=$BUILD/bench/meshprobe-bench-metrics
RSS_FLOOR=$BUILD/bench/meshprobe-bench-rss-floor
RSS_FLOOR_CXX=$BUILD/bench/meshprobe-bench-rss-floor-cxx
for bin in "$MESHPROBE" "$TESTPEER" "$PROBES" "$METRICS" "$RSS_FLOOR" "$RSS_FLOOR_CXX"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (cmake --build $BUILD)"; exit 2; }
done

IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}
SCALE_TARGETS=${BENCH_SCALE_TARGETS:-10000}
SCALE_SECONDS=${BENCH_SCALE_SECONDS:-30}
TCP_PROBES=${BENCH_TCP_PROBES:-10000}
TLS_PROBES=${BENCH_TLS_PROBES:-2000}
BLACKBOX_PROBES=${BENCH_BLACKBOX_PROBES:-1000}
HZ=$(getconf CLK_TCK)

work=$(mktemp -d)
pids=()
# Servers are often started inside $(...), whose pids+= is lost with the
# subshell: each start is also written here ($$ is the script even there).
pidfile="/tmp/meshprobe-test-pids.$$"
cleanup() {
  for pid in "${pids[@]}" $(cat "$pidfile" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $(cat "$pidfile" 2>/dev/null); do wait "$pid" 2>/dev/null || true; done
  rm -f "$pidfile"
  rm -rf "$work"
}
trap cleanup EXIT

bench() { echo "BENCH $1=$2"; }

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
serve() {  # serve CPU ARGS...: a testpeer pinned to a core; prints its port
  local cpu=$1 port out; shift
  port=$(free_port); out="$work/peer-$port.out"
  taskset -c "$cpu" "$TESTPEER" serve --listen "127.0.0.1:$port" "$@" >"$out" 2>&1 &
  pids+=($!); echo "$!" >>"$pidfile"
  wait_for 5 grep -q ready "$out"
  echo "$port"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup"; }
# Quantile from the cumulative buckets of a histogram without labels.
# As PromQL's histogram_quantile: linear inside a bucket, and the highest
# finite bound when the quantile falls in +Inf (no upper bound to report).
histogram_quantile() {
  awk -v m="$1_bucket" -v q="$2" 'BEGIN { n = 0 }
    index($1, m"{") == 1 { match($1, /le="[^"]+"/); le = substr($1, RSTART+4, RLENGTH-5);
      les[n] = le; counts[n++] = $NF }
    END { total = counts[n-1]; rank = q * total; prev_le = 0; prev_c = 0
      for (i = 0; i < n; i++) { if (counts[i] >= rank) {
          if (les[i] == "+Inf") { printf "%.6f", prev_le; exit }
          frac = (counts[i] == prev_c) ? 0 : (rank - prev_c) / (counts[i] - prev_c)
          printf "%.6f", prev_le + (les[i] - prev_le) * frac; exit }
        prev_le = les[i]; prev_c = counts[i] } }'
}

"$TESTPEER" pki "$work/pki" --san istiod.istio-system.svc >/dev/null

echo "== 1. CPU per probe: meshprobe's engine vs a raw baseline (client CPU, sequential)"
"$PROBES" "$TCP_PROBES" "$TLS_PROBES" | tee "$work/probes.txt"
grep '^BENCH' "$work/probes.txt" >/dev/null
mesh_tcp=$(awk -F= '/tcp_probe_meshprobe_cpu_us/{print $2}' "$work/probes.txt")
mesh_tls=$(awk -F= '/tls_probe_meshprobe_cpu_us/{print $2}' "$work/probes.txt")

echo "== 2. prometheus-blackbox-exporter, same servers, sequential /probe requests"
if command -v prometheus-blackbox-exporter >/dev/null; then
  tcp_port=$(serve 1 --mode tcp_close)
  tls_port=$(serve 1 --mode tls_http --cert "$work/pki/leaf.pem" --key "$work/pki/leaf-key.pem")
  cat >"$work/blackbox.yml" <<YAML
modules:
  tcp: {prober: tcp, timeout: 3s}
  tls_ca: {prober: tcp, timeout: 3s, tcp: {tls: true, tls_config: {ca_file: $work/pki/ca.pem, server_name: istiod.istio-system.svc}}}
  tls_system: {prober: tcp, timeout: 3s, tcp: {tls: true, tls_config: {server_name: istiod.istio-system.svc}}}
YAML
  bb_port=$(free_port)
  taskset -c 0 prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
    --web.listen-address="127.0.0.1:$bb_port" >"$work/blackbox.log" 2>&1 &
  bb_pid=$!; pids+=("$bb_pid")
  wait_for 10 curl -sf "http://127.0.0.1:$bb_port/metrics"
  blackbox_cpu_us() {  # module target
    local url="http://127.0.0.1:$bb_port/probe?module=$1&target=$2" before after
    for _ in $(seq 1 20); do curl -s "$url" >/dev/null; done
    before=$(cpu_ticks "$bb_pid")
    for _ in $(seq 1 "$BLACKBOX_PROBES"); do curl -s "$url" >/dev/null; done
    after=$(cpu_ticks "$bb_pid")
    echo $(( (after - before) * 1000000 / HZ / BLACKBOX_PROBES ))
  }
  bb_tcp=$(blackbox_cpu_us tcp "127.0.0.1:$tcp_port")
  bb_tls_ca=$(blackbox_cpu_us tls_ca "127.0.0.1:$tls_port")
  bb_tls_sys=$(blackbox_cpu_us tls_system "127.0.0.1:$tls_port")
  printf '%-34s %8s us   meshprobe %8s us   meshprobe is %.1fx less\n' \
    "blackbox tcp" "$bb_tcp" "$mesh_tcp" "$(echo "$bb_tcp / $mesh_tcp" | bc -l)" \
    "blackbox tls (one-cert CA file)" "$bb_tls_ca" "$mesh_tls" "$(echo "$bb_tls_ca / $mesh_tls" | bc -l)" \
    "blackbox tls (system bundle)" "$bb_tls_sys" "$mesh_tls" "$(echo "$bb_tls_sys / $mesh_tls" | bc -l)"
  bench blackbox_tcp_cpu_us "$bb_tcp"
  bench blackbox_tls_ca_cpu_us "$bb_tls_ca"
  bench blackbox_tls_system_cpu_us "$bb_tls_sys"
  bench blackbox_over_meshprobe_tcp "$(echo "$bb_tcp / $mesh_tcp" | bc -l | cut -c1-5)"
  bench blackbox_over_meshprobe_tls_ca "$(echo "$bb_tls_ca / $mesh_tls" | bc -l | cut -c1-5)"
  bench blackbox_over_meshprobe_tls_system "$(echo "$bb_tls_sys / $mesh_tls" | bc -l | cut -c1-5)"
else
  echo "prometheus-blackbox-exporter not installed: skipped (.ci/install-deps installs it)"
fi

echo "== 3. the agent idle with the demo config (${IDLE_SECONDS} s)"
demo_port=$(free_port)
"$MESHPROBE" agent --config config/examples/demo.yaml --listen "127.0.0.1:$demo_port" 2>/dev/null &
demo_pid=$!; pids+=("$demo_pid")
wait_for 5 curl -sf "http://127.0.0.1:$demo_port/healthz"
sleep 2
before=$(cpu_ticks "$demo_pid")
sleep "$IDLE_SECONDS"
after=$(cpu_ticks "$demo_pid")
idle_cpu=$(echo "($after - $before) * 100 / $HZ / $IDLE_SECONDS" | bc -l | cut -c1-6)
printf 'idle RSS %s kB (PSS %s kB), CPU %s%% of a core\n' "$(rss_kb "$demo_pid")" "$(pss_kb "$demo_pid")" "$idle_cpu"
bench idle_rss_kb "$(rss_kb "$demo_pid")"
bench idle_pss_kb "$(pss_kb "$demo_pid")"
bench idle_cpu_percent "$idle_cpu"
kill "$demo_pid"
# The floors: a process with the same OpenSSL and one TLS client context,
# and the same with the C++ standard library in use (any C++ prober's floor).
floor() {  # binary bench-name description
  "$1" >"$work/$2.out" &
  floor_pid=$!; pids+=("$floor_pid")
  wait_for 5 grep -q ready "$work/$2.out"
  printf '%s: RSS %s kB (PSS %s kB)\n' "$3" "$(rss_kb "$floor_pid")" "$(pss_kb "$floor_pid")"
  bench "$2_rss_kb" "$(rss_kb "$floor_pid")"
  bench "$2_pss_kb" "$(pss_kb "$floor_pid")"
  kill "$floor_pid"
}
floor "$RSS_FLOOR" idle_floor "floor (OpenSSL + one TLS context, nothing else)"
floor "$RSS_FLOOR_CXX" idle_floor_cxx "floor with the C++ runtime in use (string, exception, stream)"

echo "== 4. scale: $SCALE_TARGETS targets (90% tcp, 10% tls) at 10 s, agent on one core"
tcp_port=$(serve 1 --mode tcp_close)
tls_port=$(serve 1 --mode tls_http --cert "$work/pki/leaf.pem" --key "$work/pki/leaf-key.pem")
scale_port=$(free_port)
{
  echo "listen: 127.0.0.1:$scale_port"
  echo "vantage: bench"
  echo "node_name: bench-node"
  echo "max_concurrency: 512"
  echo "defaults: {interval: 10s, timeout: 3s}"
  echo "ca_bundles: {mesh: {file: $work/pki/ca.pem}}"
  echo "targets:"
  for i in $(seq 1 "$SCALE_TARGETS"); do
    if [ $((i % 10)) -eq 0 ]; then
      echo "  - {name: tls-$i, url: \"tls://127.0.0.1:$tls_port\", ca: mesh, server_name: istiod.istio-system.svc}"
    else
      echo "  - {name: tcp-$i, url: \"tcp://127.0.0.1:$tcp_port\"}"
    fi
  done
} >"$work/scale.yaml"
taskset -c 0 "$MESHPROBE" agent --config "$work/scale.yaml" 2>"$work/scale.log" &
scale_pid=$!; pids+=("$scale_pid")
wait_for 20 curl -sf "http://127.0.0.1:$scale_port/readyz" || { echo "scale agent never ready"; tail "$work/scale.log"; exit 1; }
sleep 5
curl -sf "http://127.0.0.1:$scale_port/metrics" >"$work/m0.txt"
before=$(cpu_ticks "$scale_pid")
sleep "$SCALE_SECONDS"
after=$(cpu_ticks "$scale_pid")
curl -sf "http://127.0.0.1:$scale_port/metrics" >"$work/m1.txt"
probes0=$(metric_sum meshprobe_probes_total <"$work/m0.txt")
probes1=$(metric_sum meshprobe_probes_total <"$work/m1.txt")
failed1=$(awk '$1 ~ /^meshprobe_probes_total[{]/ && $1 !~ /diagnosis="ok"/ {s += $NF} END {printf "%.0f", s}' "$work/m1.txt")
rate=$(echo "($probes1 - $probes0) / $SCALE_SECONDS" | bc -l | cut -c1-7)
scale_cpu=$(echo "($after - $before) * 100 / $HZ / $SCALE_SECONDS" | bc -l | cut -c1-6)
p50=$(histogram_quantile meshprobe_schedule_lateness_seconds 0.5 <"$work/m1.txt")
p99=$(histogram_quantile meshprobe_schedule_lateness_seconds 0.99 <"$work/m1.txt")
printf 'probe rate %s/s (expected %s/s), failed probes %s, CPU %s%% of one core, RSS %s kB\n' \
  "$rate" "$((SCALE_TARGETS / 10))" "$failed1" "$scale_cpu" "$(rss_kb "$scale_pid")"
printf 'scheduling lateness p50 %s s, p99 %s s (from the histogram buckets)\n' "$p50" "$p99"
bench scale_targets "$SCALE_TARGETS"
bench scale_probe_rate_per_s "$rate"
bench scale_failed_probes "$failed1"
bench scale_cpu_percent "$scale_cpu"
bench scale_rss_kb "$(rss_kb "$scale_pid")"
bench scale_lateness_p50_s "$p50"
bench scale_lateness_p99_s "$p99"

echo "== 5. /metrics of the $SCALE_TARGETS-target agent"
for _ in 1 2 3 4 5; do
  curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$scale_port/metrics"
done | sort -n >"$work/scrapes.txt"
scrape_s=$(sed -n 3p "$work/scrapes.txt" | cut -d' ' -f1)
scrape_bytes=$(sed -n 3p "$work/scrapes.txt" | cut -d' ' -f2)
printf '/metrics median %s ms, %s bytes\n' "$(echo "$scrape_s * 1000" | bc -l | cut -c1-6)" "$scrape_bytes"
bench metrics_scrape_ms "$(echo "$scrape_s * 1000" | bc -l | cut -c1-6)"
bench metrics_bytes "$scrape_bytes"
kill "$scale_pid"
"$METRICS" "$SCALE_TARGETS"  # the exposition alone, without HTTP or a busy loop

echo "== 6. timing accuracy: a server that answers 200 ms after the request"
delay_port=$(serve 1 --mode tls_http --delay-ms 200 --cert "$work/pki/leaf.pem" --key "$work/pki/leaf-key.pem")
for _ in $(seq 1 10); do
  app=$("$MESHPROBE" check --output json --ca-file "$work/pki/ca.pem" --server-name istiod.istio-system.svc \
    "https://127.0.0.1:$delay_port/ready" | jq '.results[0].phases.app')
  err=$(echo "($app - 0.200) * 1000" | bc -l)
  echo "${err#-}"
done | sort -n >"$work/timing.txt"
worst=$(tail -1 "$work/timing.txt" | cut -c1-6)
median=$(sed -n 5p "$work/timing.txt" | cut -c1-6)
printf 'reported app phase vs the 200 ms server delay: worst error %s ms, median %s ms over 10 probes\n' "$worst" "$median"
bench timing_median_error_ms "$median"
bench timing_worst_error_ms "$worst"

echo "== 7. server CPU per probe with TLS session resumption: defaults vs full_verify_interval 0s"
if [ -x "$BUILD/bench/meshprobe-bench-resumption" ] && [ -x "$BUILD/test/support/gopeer/meshprobe-gopeer" ] &&
   command -v nginx >/dev/null; then
  bench/resumption.sh "$BUILD" | tee "$work/resumption.txt"
  grep '^BENCH' "$work/resumption.txt" >/dev/null
else
  echo "meshprobe-bench-resumption, meshprobe-gopeer or nginx missing: skipped"
fi

echo "== 8. CPU per probe of the whole agent process vs raw loops on the same nginx"
if [ -x "$BUILD/bench/meshprobe-bench-raw-loops" ] && command -v nginx >/dev/null; then
  bench/agent_cpu.sh "$BUILD" | tee "$work/agent_cpu.txt"
  grep '^BENCH' "$work/agent_cpu.txt" >/dev/null
else
  echo "meshprobe-bench-raw-loops or nginx missing: skipped"
fi
