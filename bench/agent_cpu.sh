#!/usr/bin/env bash
# CPU per probe of the whole agent process, against a raw loop that does
# nothing but the probe, on the same nginx in the same run (bench/run.sh's
# section 8; runs alone too). The engine's figure (section 1) leaves out what
# the user also pays for: scheduling, the store and its history, result
# strings, certificate summaries, metrics and logs.
#
#   agent: `meshprobe agent` pinned to core 0 probes BENCH_AGENT_TLS_TARGETS
#   tls:// targets (full_verify_interval: 0s, a full verified handshake every
#   probe, as the raw loop) or BENCH_AGENT_TCP_TARGETS tcp:// targets at a
#   1 s interval; its CPU (every thread's, /proc/PID/task/*/schedstat) over
#   BENCH_AGENT_SECONDS, divided by the probes meshprobe_probes_total counted.
#   raw: bench/raw_loops.cpp on core 0: sequential OpenSSL handshakes with
#   the same verification; non-blocking connects, 16 in flight.
#   resumed: the TLS targets at the defaults (full_verify_interval 5m), in
#   the window after their first round, where every probe resumes, against
#   the raw loop resuming every handshake: what a user pays between two
#   full verifications, which is nearly every probe at the defaults.
#
#   bench/agent_cpu.sh [BUILD_DIR]
#
# Environment: BENCH_AGENT_SECONDS (15), BENCH_AGENT_TLS_TARGETS (200),
# BENCH_AGENT_TCP_TARGETS (1000), BENCH_AGENT_BLOCKS (3: agent and raw runs
# alternate, the medians are compared), BENCH_AGENT_RAW_TLS (3000) and
# BENCH_AGENT_RAW_TCP (50000): the raw loops' probes. Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MESHPROBE=$BUILD/agent/meshprobe
RAW=$BUILD/bench/meshprobe-bench-raw-loops
TESTPEER=$BUILD/test/support/meshprobe-testpeer
for bin in "$MESHPROBE" "$RAW" "$TESTPEER"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (cmake --build $BUILD)"; exit 2; }
done
command -v nginx >/dev/null || { echo "nginx not installed (nginx-light)"; exit 2; }
SECONDS_PER_RUN=${BENCH_AGENT_SECONDS:-15}
TLS_TARGETS=${BENCH_AGENT_TLS_TARGETS:-200}
TCP_TARGETS=${BENCH_AGENT_TCP_TARGETS:-1000}
BLOCKS=${BENCH_AGENT_BLOCKS:-3}
RAW_TLS=${BENCH_AGENT_RAW_TLS:-3000}
RAW_TCP=${BENCH_AGENT_RAW_TCP:-50000}
SERVER_NAME=istiod.istio-system.svc

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_workdir

"$TESTPEER" pki "$work/pki" --san "$SERVER_NAME" >/dev/null
tls_port=$(free_port)
tcp_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$tls_port ssl;
    listen 127.0.0.1:$tcp_port;
    ssl_certificate $work/pki/leaf.pem;
    ssl_certificate_key $work/pki/leaf-key.pem;
    location / { return 200 "ok\n"; }
  }
}
NGINX
taskset -c 1 nginx -p "$work" -c "$work/nginx.conf" &
pids+=($!)
wait_for 5 curl -sf "http://127.0.0.1:$tcp_port/"

# Nanoseconds on a CPU of every thread of PID.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }

agent_us_per_probe() {  # agent_us_per_probe KIND COUNT (KIND: tls, resumed, tcp)
  local kind=$1 count=$2 port pid i ns0 ns1 probes resumed verify=0s
  [ "$kind" = resumed ] && verify=5m
  port=$(free_port)
  {
    echo "listen: 127.0.0.1:$port"
    echo "vantage: bench"
    echo "node_name: bench-node"
    echo "max_concurrency: 64"
    echo "defaults: {interval: 1s, timeout: 900ms, full_verify_interval: $verify}"
    echo "ca_bundles: {mesh: {file: $work/pki/ca.pem}}"
    echo "targets:"
    for i in $(seq 1 "$count"); do
      if [ "$kind" != tcp ]; then
        echo "  - {name: tls-$i, url: \"tls://127.0.0.1:$tls_port\", ca: mesh, server_name: $SERVER_NAME}"
      else
        echo "  - {name: tcp-$i, url: \"tcp://127.0.0.1:$tcp_port\"}"
      fi
    done
  } >"$work/agent-$kind.yaml"
  taskset -c 0 "$MESHPROBE" agent --config "$work/agent-$kind.yaml" 2>"$work/agent-$kind.log" &
  pid=$!
  wait_for 20 curl -sf "http://127.0.0.1:$port/readyz" || { echo "agent never ready" >&2; tail -5 "$work/agent-$kind.log" >&2; exit 1; }
  sleep 3  # every target has had its first round
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics-0"
  ns0=$(cpu_ns "$pid")
  sleep "$SECONDS_PER_RUN"
  ns1=$(cpu_ns "$pid")
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics-1"
  probes=$(($(metric_sum meshprobe_probes_total <"$work/metrics-1") -
            $(metric_sum meshprobe_probes_total <"$work/metrics-0")))
  resumed=$(($(metric_sum meshprobe_tls_resumed_total <"$work/metrics-1") -
             $(metric_sum meshprobe_tls_resumed_total <"$work/metrics-0")))
  # The figure is of one kind of handshake: all resumed, or none.
  if [ "$kind" = resumed ] && [ "$resumed" != "$probes" ]; then
    echo "only $resumed of $probes probes resumed" >&2
    exit 1
  elif [ "$kind" != resumed ] && [ "$resumed" != 0 ]; then
    echo "a probe resumed: the figure would not be a full handshake's" >&2
    exit 1
  fi
  if grep '^meshprobe_probes_total{' "$work/metrics-1" | grep -qv 'diagnosis="ok"'; then
    echo "a probe failed: the figure would not be a probe's cost" >&2
    grep '^meshprobe_probes_total{' "$work/metrics-1" >&2
    exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$ns0 $ns1 $probes" | awk '{printf "%.1f", ($2 - $1) / 1000 / $3}'
}

raw_us_per_probe() {  # raw_us_per_probe KIND [PER_SECOND]
  if [ "$1" != tcp ]; then
    local mode=tls; [ "$1" = resumed ] && mode=tls-resume
    taskset -c 0 "$RAW" "$mode" "$tls_port" "$work/pki/ca.pem" "$SERVER_NAME" "$RAW_TLS" ${2:+"$2"}
  else
    taskset -c 0 "$RAW" tcp "$tcp_port" "$RAW_TCP"
  fi | sed -n 's/^cpu_us_per_probe=//p'
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

ratio() { echo "$1 / $2" | bc -l | cut -c1-5; }
for kind in tls resumed tcp; do
  agents=() raws=() paced=()
  targets=$TLS_TARGETS; [ "$kind" = tcp ] && targets=$TCP_TARGETS
  for _ in $(seq 1 "$BLOCKS"); do
    raws+=("$(raw_us_per_probe "$kind")")
    [ "$kind" != tcp ] && paced+=("$(raw_us_per_probe "$kind" "$targets")")
    agents+=("$(agent_us_per_probe "$kind" "$targets")")
  done
  agent=$(echo "${agents[*]}" | median)
  raw=$(echo "${raws[*]}" | median)
  target=1.15; [ "$kind" = tcp ] && target=2
  printf '%-7s whole agent (%s targets at 1 s) %7s us/probe   raw loop %7s us   %sx (target <= %sx)   runs: agent %s, raw %s\n' \
    "$kind" "$targets" "$agent" "$raw" "$(ratio "$agent" "$raw")" "$target" "${agents[*]}" "${raws[*]}"
  echo "BENCH agent_${kind}_cpu_us=$agent"
  echo "BENCH raw_${kind}_cpu_us=$raw"
  echo "BENCH agent_over_raw_${kind}=$(ratio "$agent" "$raw")"
  if [ "$kind" != tcp ]; then
    # The same raw loop paced at the agent's rate: handshakes that start
    # with cold caches, as the agent's do between its rounds.
    raw_paced=$(echo "${paced[*]}" | median)
    printf '%-7s raw loop paced at %s handshakes/s %7s us/probe   whole agent over it %sx   runs: %s\n' \
      "$kind" "$targets" "$raw_paced" "$(ratio "$agent" "$raw_paced")" "${paced[*]}"
    echo "BENCH raw_${kind}_paced_cpu_us=$raw_paced"
    echo "BENCH agent_over_raw_${kind}_paced=$(ratio "$agent" "$raw_paced")"
  fi
done
