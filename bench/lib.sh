# Helpers shared by the bench scripts (bench/run.sh, resumption.sh, agent_cpu.sh).
# shellcheck shell=bash

wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.1; done
}

# A loopback port nothing listens on, below the kernel's ephemeral range.
free_port() {
  local port
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  exit 1
}

# Sums a metric's samples in a Prometheus text exposition on stdin.
metric_sum() { awk -v m="$1" '$1 ~ "^"m"({|$)" {s += $NF} END {printf "%.0f", s}'; }

# A work directory ($work) removed at exit, and the servers started into
# $pids killed then: the standalone scripts' (run.sh keeps a pidfile too).
bench_workdir() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
