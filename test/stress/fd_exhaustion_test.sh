#!/usr/bin/env bash
# Resource exhaustion: `meshprobe agent` under `ulimit -n 256` with 2,000
# targets on loopback, most of them held open by a silent TLS port so that
# the probes want far more descriptors than the process has.
#
#   fd_exhaustion_test.sh MESHPROBE TESTPEER
#
# What it asserts:
#   - failures caused by the descriptor limit are `local_resource`, in
#     /status and in meshprobe_probes_total, and nothing else is misread
#     (each group of targets only ever shows its own diagnosis or
#     local_resource);
#   - the limit is really reached (the agent's descriptor count hits it);
#   - the agent stays up, and /healthz and /metrics keep answering while the
#     descriptors are exhausted;
#   - after a reload (SIGHUP) to a small config it recovers: every target is
#     `ok` again, and it holds no more descriptors than before the load.
#
# Reloads under exhaustion: reading the config (and its CA files) needs a
# descriptor, so a reload while none is free is refused ("cannot read: Too
# many open files", or "cannot open CA bundle file: Too many open files")
# and the last good config keeps running. Such a refusal is transient: the
# agent's file watcher tries the file again by itself (one SIGHUP only;
# each refusal is reported).
#
# Knobs (environment): STRESS_FD_LIMIT (256), STRESS_TARGETS (2000),
# STRESS_LOAD_SECONDS (20: how long the endpoint is polled under load),
# STRESS_HEALTHZ_MAX_SECONDS (1: the longest a /healthz answer may take,
# the kubelet's default liveness timeout; the endpoint keeps a descriptor in
# reserve for it).
# Needs no root. Every process it starts is stopped on exit.
set -euo pipefail

MESHPROBE=$1
TESTPEER=$2
CASE=fd_exhaustion
FD_LIMIT=${STRESS_FD_LIMIT:-256}
TARGETS=${STRESS_TARGETS:-2000}
LOAD_SECONDS=${STRESS_LOAD_SECONDS:-20}
HEALTHZ_MAX=${STRESS_HEALTHZ_MAX_SECONDS:-1}
LIGHT=20  # targets of the small config: 10 tcp + 10 tls, all healthy

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
need_tools jq curl awk
make_workdir
fail_context() { show_log "$workdir/agent.log" 20 "agent log (last 20 lines)"; }

"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
ok_port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
silent_port=$(serve --mode tcp_silent)

# write_config FILE HOLD TCP TLS: HOLD targets on the silent port (each holds
# a descriptor for the whole timeout, then fails with tls_timeout), TCP and
# TLS healthy targets on the TLS port. Names stay the same across configs, so
# a reload keeps the healthy targets' state.
write_config() {
  local file=$1 hold=$2 tcp=$3 tls=$4 i
  {
    cat <<YAML
listen: 127.0.0.1:0
vantage: stress
node_name: stress-node
max_concurrency: 100000
defaults: {interval: 2s, timeout: 1s}
ca_bundles:
  mesh: {file: $workdir/pki/ca.pem}
targets:
YAML
    for ((i = 0; i < tcp; i++)); do
      printf '  - {name: tcp-%04d, url: "tcp://127.0.0.1:%s"}\n' "$i" "$ok_port"
    done
    for ((i = 0; i < tls; i++)); do
      printf '  - {name: tls-%04d, url: "tls://127.0.0.1:%s", ca: mesh, server_name: istiod.istio-system.svc}\n' \
        "$i" "$ok_port"
    done
    for ((i = 0; i < hold; i++)); do
      printf '  - {name: hold-%04d, url: "tls://127.0.0.1:%s", ca: mesh, server_name: istiod.istio-system.svc}\n' \
        "$i" "$silent_port"
    done
  } >"$file.tmp"
  mv "$file.tmp" "$file"
}

fd_count() { find "/proc/$agent_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
alive() { kill -0 "$agent_pid" 2>/dev/null; }
# The smallest descriptor count over a few samples: a probe in flight at one
# sample does not count as held.
fd_floor() {
  local min=1000000 n i
  for i in $(seq 1 20); do
    n=$(fd_count)
    [ "$n" -lt "$min" ] && min=$n
    [ "$i" -lt 20 ] && sleep 0.1
  done
  echo "$min"
}

get() { curl -sf --max-time 10 "$URL$1"; }
metric_sum() {  # metric_sum FILE REGEX: sum of the samples whose line matches
  awk -v re="$2" '$0 ~ re { s += $NF } END { printf "%d\n", s }' "$1"
}
gauge() { get /metrics | awk -v n="$1" '$1 == n { print $2 }'; }
all_light_ok() {
  get /status | jq -e --argjson n "$LIGHT" \
    '([.targets[] | select(.addresses[0].diagnosis == "ok")] | length) == $n and (.targets | length) == $n' \
    >/dev/null
}

# reload_to COUNT: one SIGHUP, then wait until COUNT targets run. Reading
# the config needs a descriptor too: a reload refused for the lack of one is
# reported, and the agent must retry it by itself.
refused_reloads=0
reload_to() {
  local want=$1 deadline=$(( $(date +%s) + 30 )) seen rejected
  seen=$(grep -c config_rejected "$workdir/agent.log" || true)
  kill -HUP "$agent_pid"
  until [ "$(gauge meshprobe_targets || true)" = "$want" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "reload to $want targets not applied in 30 s"
    rejected=$(grep -c config_rejected "$workdir/agent.log" || true)
    if [ "$rejected" -gt "$seen" ]; then
      note "a reload was refused: $(grep config_rejected "$workdir/agent.log" | tail -1)"
      refused_reloads=$((refused_reloads + 1))
      seen=$rejected
    fi
    sleep 0.5
  done
}

# ---- 1. a small config: the baseline -------------------------------------
write_config "$workdir/config.yaml" 0 10 10
(ulimit -n "$FD_LIMIT"; exec "$MESHPROBE" agent --config "$workdir/config.yaml") \
  >"$workdir/agent.log" 2>&1 &
agent_pid=$!
eventually 5 grep -q agent_started "$workdir/agent.log" || fail "agent did not start"
URL="http://$(sed -n 's/.*event=agent_started.* listen=\([^ ]*\).*/\1/p' "$workdir/agent.log" | head -1)"
[ "$(awk '/^Max open files/ { print $4 }' "/proc/$agent_pid/limits")" = "$FD_LIMIT" ] \
  || fail "the agent's descriptor limit is not $FD_LIMIT: $(grep 'open files' "/proc/$agent_pid/limits")"
eventually 10 all_light_ok || fail "the small config never became ok: $(get /status | jq -c '[.targets[] | .addresses[0].diagnosis]')"
baseline=$(fd_floor)
note "baseline: $baseline descriptors with $LIGHT healthy targets (limit $FD_LIMIT)"

# ---- 2. thousands of targets ---------------------------------------------
hold=$(( TARGETS * 2 / 5 ))
healthy=$(( (TARGETS - hold) / 2 ))
write_config "$workdir/config.yaml" "$hold" "$healthy" "$healthy"
note "reloading to $TARGETS targets: $hold holding a descriptor 1 s of every 2 s, $((healthy * 2)) healthy"
reload_to $((hold + healthy * 2))

start=$(date +%s)
peak=0
healthz_ok=0
healthz_bad=0
metrics_ok=0
: >"$workdir/healthz.txt"
while [ $(( $(date +%s) - start )) -lt "$LOAD_SECONDS" ]; do
  alive || fail "the agent exited under load: $(tail -5 "$workdir/agent.log")"
  n=$(fd_count)
  [ "$n" -gt "$peak" ] && peak=$n
  # curl's own timeout is well above the bound, to see how late answers come.
  answer=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 "$URL/healthz" || true)
  echo "$answer" >>"$workdir/healthz.txt"
  code=${answer%% *}
  took=${answer##* }
  if [ "$code" = 200 ] && awk -v t="$took" -v m="$HEALTHZ_MAX" 'BEGIN { exit !(t <= m) }'; then
    healthz_ok=$((healthz_ok + 1))
  else
    healthz_bad=$((healthz_bad + 1))
  fi
  if get /metrics >"$workdir/metrics.txt" 2>/dev/null; then metrics_ok=$((metrics_ok + 1)); fi
  sleep 0.3
done
get /metrics >"$workdir/metrics.txt" || fail "/metrics did not answer under load"
get /status >"$workdir/status.json" || fail "/status did not answer under load"
latencies=$(awk '{ print $2 }' "$workdir/healthz.txt" | sort -n \
  | awk '{ t[NR] = $1 } END { printf "median %.3f s, p90 %.3f s, max %.3f s", t[int((NR + 1) / 2)], t[int(NR * 0.9 + 0.5)], t[NR] }')
note "under load: peak $peak descriptors; /healthz $healthz_ok answered within ${HEALTHZ_MAX} s, $healthz_bad not ($latencies); /metrics answered $metrics_ok times"

alive || fail "the agent exited under load"
[ "$peak" -ge $(( FD_LIMIT - 8 )) ] \
  || fail "the load never reached the descriptor limit (peak $peak of $FD_LIMIT): the test proves nothing"
[ "$healthz_bad" = 0 ] \
  || fail "/healthz went unanswered or answered later than ${HEALTHZ_MAX} s $healthz_bad times of $((healthz_ok + healthz_bad)) (answers: $(sort -k2 -n "$workdir/healthz.txt" | tail -3 | tr '\n' ';'))"

local_metrics=$(metric_sum "$workdir/metrics.txt" '^meshprobe_probes_total[{].*diagnosis="local_resource"')
[ "$local_metrics" -gt 0 ] || fail "no probe counted as local_resource in /metrics"
local_status=$(jq '[.targets[].addresses[] | .history[] | select(.diagnosis == "local_resource")] | length' \
  "$workdir/status.json")
[ "$local_status" -gt 0 ] || fail "no local_resource in /status histories"
message=$(jq -r 'first(.targets[].addresses[] | select(.diagnosis == "local_resource") | .message) // ""' \
  "$workdir/status.json")
note "local_resource: $local_metrics probes in /metrics, $local_status in /status histories; message: $message"
if [ -n "$message" ]; then
  [[ "$message" == *"open files"* ]] || fail "a local_resource message does not name the limit: $message"
fi

# Every group shows only its own diagnosis, or local_resource.
for group in "tcp:ok" "tls:ok" "hold:tls_timeout"; do
  prefix=${group%%:*}
  expected=${group#*:}
  others=$(grep "^meshprobe_probes_total{target=\"$prefix-" "$workdir/metrics.txt" \
    | grep -v "diagnosis=\"$expected\"\|diagnosis=\"local_resource\"" || true)
  [ -z "$others" ] || fail "$prefix targets misdiagnosed under fd exhaustion: $(echo "$others" | head -3)"
  count=$(metric_sum "$workdir/metrics.txt" "^meshprobe_probes_total[{]target=\"$prefix-.*diagnosis=\"$expected\"")
  lr=$(metric_sum "$workdir/metrics.txt" "^meshprobe_probes_total[{]target=\"$prefix-.*diagnosis=\"local_resource\"")
  note "  $prefix-*: $count $expected, $lr local_resource"
done

# ---- 3. back to the small config -----------------------------------------
write_config "$workdir/config.yaml" 0 10 10
reload_to "$LIGHT"
alive || fail "the agent exited on the reload"
# Removed targets' probes end within their timeout; then every healthy
# target must be probed ok again (not just keep an old ok).
sleep 2
marker=$(get /metrics | metric_sum /dev/stdin '^meshprobe_probes_total[{].*diagnosis="ok"')
eventually 15 all_light_ok || fail "no recovery: $(get /status | jq -c '[.targets[] | [.name, .addresses[0].diagnosis]]')"
sleep 4.5  # two intervals: every light target probed twice more
get /metrics >"$workdir/metrics.txt"
now_ok=$(metric_sum "$workdir/metrics.txt" '^meshprobe_probes_total[{].*diagnosis="ok"')
[ "$now_ok" -ge $(( marker + LIGHT )) ] || fail "probes did not succeed again ($marker -> $now_ok ok probes)"
all_light_ok || fail "a target failed after recovery: $(get /status | jq -c '[.targets[] | [.name, .addresses[0].diagnosis]]')"
in_flight=$(awk '/^meshprobe_probes_in_flight / { print $2 }' "$workdir/metrics.txt")
after=$(fd_floor)
note "after recovery: $after descriptors (baseline $baseline), $in_flight probes in flight"
if [ "$after" -gt "$baseline" ]; then
  ls -l "/proc/$agent_pid/fd" >"$workdir/fds.txt" 2>&1 || true
  fail "descriptors leaked: $baseline before the load, $after after: $(awk '{ print $NF }' "$workdir/fds.txt" | sort | uniq -c | sort -rn | head -5 | tr '\n' ';')"
fi

note "reloads refused for want of a descriptor (retried by the agent): $refused_reloads"

kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=""
[ "$rc" = 0 ] || fail "the agent exited $rc on SIGTERM"
echo "PASS [$CASE]"
