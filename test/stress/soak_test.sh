#!/usr/bin/env bash
# Soak: `meshprobe agent` in a network namespace probing targets whose
# firewall flaps, for a bounded time, watching its memory and descriptors.
#
#   soak_test.sh MESHPROBE TESTPEER
#
# Two namespaces joined by a veth pair: the agent in one (198.51.100.1), test
# peers in the other (198.51.100.2). Every SOAK_FLIP_SECONDS the server's
# nftables input rules for the flapping ports cycle
#   accept -> drop -> reject with tcp reset -> accept -> ...
# (ok, tcp_timeout, tcp_refused), while a steady port is never filtered.
# Every SOAK_SAMPLE_SECONDS the agent's VmRSS and open descriptors are
# sampled, and /metrics and /status are scraped, as Prometheus and a user
# would.
#
# Asserts, after a warm-up (SOAK_WARMUP_SECONDS, by default the time the
# 30-probe histories take to fill):
#   - no growth: the largest RSS of the last third of the samples is at most
#     the largest of the first third plus SOAK_RSS_SLACK_KB (default 1536),
#     and the same for descriptors (slack: a tenth of the targets + 4, as
#     the number of probes in flight at a sample varies); the fewest
#     descriptors of the last third (sampled between probes) are at most
#     the fewest of the first third + 2;
#   - the counters add up, in one scrape: every probe the scheduler started
#     (meshprobe_schedule_lateness_seconds_count) is finished and counted in
#     meshprobe_probes_total or still in flight; per target, finished +
#     skipped rounds match the time the agent ran over the interval;
#   - state changes match the flips made: each flapping address has exactly
#     one transition per accept->drop and per reject->accept flip
#     (meshprobe_transitions_total), the log has one probe_failing or
#     probe_recovered line per transition, every flapping target saw ok,
#     tcp_timeout and tcp_refused and nothing else, steady targets only ok;
#   - the agent is alive throughout and exits 0 on SIGTERM.
#
# Length: MESHPROBE_SOAK_SECONDS (default 180; e.g. 3600 for an hour).
# The CTest timeout follows the value seen when CMake configured the tree.
# Other knobs: SOAK_FLIP_SECONDS (10), SOAK_SAMPLE_SECONDS (3),
# SOAK_WARMUP_SECONDS (60), SOAK_FLAPPING (targets per flapping port, 15).
#
# Needs root (network namespaces, nftables); exits 77 (skipped) otherwise.
# Everything it creates is removed on exit, whatever happens.
set -euo pipefail

MESHPROBE=$1
TESTPEER=$2
CASE=soak
SOAK=${MESHPROBE_SOAK_SECONDS:-180}
FLIP=${SOAK_FLIP_SECONDS:-10}
SAMPLE=${SOAK_SAMPLE_SECONDS:-3}
WARMUP=${SOAK_WARMUP_SECONDS:-60}
PER_PORT=${SOAK_FLAPPING:-15}
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-1536}
INTERVAL=2     # seconds; the timeout is 1.5 s: a dropped SYN holds a socket that long
STEADY=10      # targets per kind on the steady port

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
require_root "the soak test needs root (network namespaces, nftables); run it as root or under sudo"
need_tools ip nft jq curl awk
[ "$WARMUP" -lt "$SOAK" ] || { echo "SOAK_WARMUP_SECONDS ($WARMUP) must be below MESHPROBE_SOAK_SECONDS ($SOAK)"; exit 2; }

suffix="$$"
CLIENT="mpsoak-c-$suffix"
SERVER="mpsoak-s-$suffix"
CLIENT_IP=198.51.100.1
SERVER_IP=198.51.100.2
API=127.0.0.1:9717   # the agent's endpoint, inside the client namespace
cleanup_hook() {
  ip netns del "$CLIENT" 2>/dev/null || true
  ip netns del "$SERVER" 2>/dev/null || true
}
make_workdir
# A trapped TERM or INT (ctest's timeout, Ctrl-C) ends the run and cleans up.
trap 'exit 130' INT TERM

fail_context() {
  show_log "$workdir/agent.log" 10 "agent log (last 10 lines)"
  if [ -f "$workdir/samples.txt" ]; then
    echo "--- samples (t rss_kb fds phase)"; tr '\n' ';' <"$workdir/samples.txt"; echo
  fi
}

# ---- the network ---------------------------------------------------------
ip netns add "$CLIENT"
ip netns add "$SERVER"
ip link add "sc-$suffix" netns "$CLIENT" type veth peer name "ss-$suffix" netns "$SERVER"
ip -n "$CLIENT" addr add "$CLIENT_IP/24" dev "sc-$suffix"
ip -n "$SERVER" addr add "$SERVER_IP/24" dev "ss-$suffix"
for ns in "$CLIENT" "$SERVER"; do ip -n "$ns" link set lo up; done
ip -n "$CLIENT" link set "sc-$suffix" up
ip -n "$SERVER" link set "ss-$suffix" up

FLAP_TCP=15010    # tcp targets
FLAP_TLS=15017    # https and tls targets
FLAP_GRPC=15012   # grpc targets
STEADY_PORT=15014 # never filtered

# The flapping ports' rule, replaced atomically at each flip.
set_phase() {  # set_phase accept|drop|reject
  local verdict
  case "$1" in
    accept) verdict=accept ;;
    drop) verdict=drop ;;
    reject) verdict="reject with tcp reset" ;;
  esac
  printf '%s\n' "flush chain inet soak input" \
    "add rule inet soak input tcp dport { $FLAP_TCP, $FLAP_TLS, $FLAP_GRPC } $verdict" \
    | ip netns exec "$SERVER" nft -f -
}
printf '%s\n' 'table inet soak { chain input { type filter hook input priority 0; policy accept; }; }' \
  | ip netns exec "$SERVER" nft -f -
set_phase accept

# ---- peers and the agent ----------------------------------------------------
serve() {  # serve PORT ARGS...: a testpeer in the server namespace
  local port=$1
  shift
  start_ready "$workdir/peer-$port.out" ip netns exec "$SERVER" "$TESTPEER" serve --listen "$SERVER_IP:$port" "$@"
}
"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
tls_args=(--cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
serve "$FLAP_TCP" --mode tcp_silent
serve "$FLAP_TLS" --mode tls_http "${tls_args[@]}"
serve "$FLAP_GRPC" --mode tls_h2 "${tls_args[@]}"
serve "$STEADY_PORT" --mode tls_http "${tls_args[@]}"

tls_opts='ca: mesh, server_name: istiod.istio-system.svc'
{
  cat <<YAML
listen: $API
vantage: soak
node_name: soak-node
defaults: {interval: ${INTERVAL}s, timeout: 1500ms}
ca_bundles:
  mesh: {file: $workdir/pki/ca.pem}
targets:
YAML
  for ((i = 0; i < PER_PORT; i++)); do
    printf '  - {name: flap-tcp-%02d, url: "tcp://%s:%s"}\n' "$i" "$SERVER_IP" "$FLAP_TCP"
    printf '  - {name: flap-https-%02d, url: "https://%s:%s/ready", %s}\n' "$i" "$SERVER_IP" "$FLAP_TLS" "$tls_opts"
    printf '  - {name: flap-grpc-%02d, url: "grpc://%s:%s", %s}\n' "$i" "$SERVER_IP" "$FLAP_GRPC" "$tls_opts"
  done
  for ((i = 0; i < STEADY; i++)); do
    printf '  - {name: steady-tcp-%02d, url: "tcp://%s:%s"}\n' "$i" "$SERVER_IP" "$STEADY_PORT"
    printf '  - {name: steady-https-%02d, url: "https://%s:%s/ready", %s}\n' "$i" "$SERVER_IP" "$STEADY_PORT" "$tls_opts"
  done
} >"$workdir/config.yaml"
flapping=$((PER_PORT * 3))
total=$((flapping + STEADY * 2))

ip netns exec "$CLIENT" "$MESHPROBE" agent --config "$workdir/config.yaml" >"$workdir/agent.log" 2>&1 &
agent_pid=$!
started=$(date +%s.%N)
api() { ip netns exec "$CLIENT" curl -sf --max-time 10 "http://$API$1"; }
alive() { kill -0 "$agent_pid" 2>/dev/null; }
eventually 5 api /healthz || fail "the agent did not come up: $(cat "$workdir/agent.log")"
eventually 10 api /readyz || true
all_ok() { api /status | jq -e '[.targets[].addresses[0].diagnosis] | all(. == "ok")' >/dev/null; }
all_ok || fail "not every target is ok before the first flip: $(api /status | jq -c '[.targets[] | select(.addresses[0].diagnosis != "ok") | [.name, .addresses[0].diagnosis]]')"

# ---- the soak ------------------------------------------------------------
phases=(accept drop reject)
phase_index=0
expected_transitions=0
flips=0
: >"$workdir/samples.txt"
note "${SOAK} s: $total targets ($flapping flapping, $((STEADY * 2)) steady) every ${INTERVAL} s; flip every ${FLIP} s; sample every ${SAMPLE} s after ${WARMUP} s warm-up"

flip_to() {  # flip_to INDEX: counts the ok<->failing transitions it causes
  local from=${phases[$phase_index]} to=${phases[$1]}
  set_phase "$to"
  if [ "$from" = accept ] && [ "$to" != accept ]; then expected_transitions=$((expected_transitions + 1)); fi
  if [ "$from" != accept ] && [ "$to" = accept ]; then expected_transitions=$((expected_transitions + 1)); fi
  phase_index=$1
  flips=$((flips + 1))
}

t0=$(date +%s)
next_flip=$((t0 + FLIP))
next_sample=$t0
while :; do
  now=$(date +%s)
  elapsed=$((now - t0))
  [ "$elapsed" -lt "$SOAK" ] || break
  alive || fail "the agent exited after ${elapsed} s"
  if [ "$now" -ge "$next_flip" ]; then
    flip_to $(( (phase_index + 1) % 3 ))
    next_flip=$((next_flip + FLIP))
  fi
  if [ "$now" -ge "$next_sample" ]; then
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$agent_pid/status")
    fds=$(find "/proc/$agent_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    echo "$elapsed $rss $fds ${phases[$phase_index]}" >>"$workdir/samples.txt"
    api /metrics >/dev/null || fail "/metrics did not answer after ${elapsed} s"
    api /status >/dev/null || fail "/status did not answer after ${elapsed} s"
    next_sample=$((next_sample + SAMPLE))
  fi
  sleep 0.2
done

# End in the healthy phase; wait until every flapping target has been probed
# ok again (one interval, one timeout, some slack).
[ "${phases[$phase_index]}" = accept ] || flip_to 0
eventually 10 all_ok || true
sleep $((INTERVAL * 2))
all_ok || fail "not every target recovered after the last flip: $(api /status | jq -c '[.targets[] | select(.addresses[0].diagnosis != "ok") | [.name, .addresses[0].diagnosis]]')"
api /metrics >"$workdir/metrics.txt" || fail "/metrics"
ran=$(awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
alive || fail "the agent exited"

# ---- resource use ------------------------------------------------------------
# t rss fds phase, after the warm-up, split in thirds.
awk -v w="$WARMUP" '$1 >= w' "$workdir/samples.txt" >"$workdir/steady.txt"
samples=$(wc -l <"$workdir/steady.txt")
[ "$samples" -ge 6 ] || fail "only $samples samples after the warm-up: lengthen MESHPROBE_SOAK_SECONDS"
third=$((samples / 3))
stats() {  # stats FIELD FROM COUNT: "min max" of a column over some rows
  awk -v f="$1" -v a="$2" -v c="$3" 'NR > a && NR <= a + c {
      if (min == "" || $f < min) min = $f; if ($f > max) max = $f }
    END { print min, max }' "$workdir/steady.txt"
}
read -r rss_first_min rss_first_max < <(stats 2 0 "$third")
read -r rss_last_min rss_last_max < <(stats 2 $((samples - third)) "$third")
read -r fd_first_min fd_first_max < <(stats 3 0 "$third")
read -r fd_last_min fd_last_max < <(stats 3 $((samples - third)) "$third")
read -r rss_all_min rss_all_max < <(stats 2 0 "$samples")
read -r fd_all_min fd_all_max < <(stats 3 0 "$samples")
warm_rss=$(awk 'NR == 1 { print $2 }' "$workdir/samples.txt")
note "samples: $(wc -l <"$workdir/samples.txt") ($samples after warm-up, thirds of $third)"
note "RSS kB: first sample $warm_rss; after warm-up $rss_all_min..$rss_all_max; first third max $rss_first_max, last third max $rss_last_max (min $rss_first_min -> $rss_last_min)"
note "fds: after warm-up $fd_all_min..$fd_all_max; first third $fd_first_min..$fd_first_max, last third $fd_last_min..$fd_last_max"
fd_slack=$((total / 10 + 4))
[ "$rss_last_max" -le $((rss_first_max + RSS_SLACK_KB)) ] \
  || fail "RSS grew: last third max ${rss_last_max} kB > first third max ${rss_first_max} kB + ${RSS_SLACK_KB} kB"
[ "$fd_last_max" -le $((fd_first_max + fd_slack)) ] \
  || fail "descriptors grew: last third max $fd_last_max > first third max $fd_first_max + $fd_slack"
[ "$fd_last_min" -le $((fd_first_min + 2)) ] \
  || fail "descriptors leak: fewest in the last third $fd_last_min > fewest in the first third $fd_first_min + 2"

# ---- counters --------------------------------------------------------------
m="$workdir/metrics.txt"
# per_target METRIC: "target value" lines, summed over the other labels.
per_target() {
  awk -v name="$1" 'index($0, name "{") == 1 {
      match($0, /target="[^"]*"/); t = substr($0, RSTART + 8, RLENGTH - 9); s[t] += $NF }
    END { for (t in s) print t, s[t] }' "$m" | sort
}
started_probes=$(awk '/^meshprobe_schedule_lateness_seconds_count/ { print $NF }' "$m")
in_flight=$(awk '/^meshprobe_probes_in_flight/ { print $NF }' "$m")
finished=$(per_target meshprobe_probes_total | awk '{ s += $2 } END { print s + 0 }')
skipped=$(per_target meshprobe_probes_skipped_total | awk '{ s += $2 } END { print s + 0 }')
note "counters: $started_probes started = $finished finished + $in_flight in flight; $skipped rounds skipped; agent ran ${ran} s; $flips flips, $expected_transitions ok<->failing changes each"
[ "$started_probes" = $((finished + in_flight)) ] \
  || fail "probes started ($started_probes) != finished ($finished) + in flight ($in_flight)"

# Rounds due per target: one per interval since the agent started (its
# offset and jitter move the count by one either way).
due_min=$(awk -v r="$ran" -v i="$INTERVAL" 'BEGIN { printf "%d", r / i - 2 }')
due_max=$(awk -v r="$ran" -v i="$INTERVAL" 'BEGIN { printf "%d", r / i + 1 }')
join -a1 -e 0 -o 0,1.2,2.2 <(per_target meshprobe_probes_total) <(per_target meshprobe_probes_skipped_total) \
  >"$workdir/rounds.txt"
[ "$(wc -l <"$workdir/rounds.txt")" = "$total" ] || fail "meshprobe_probes_total covers $(wc -l <"$workdir/rounds.txt") targets, not $total"
bad=$(awk -v lo="$due_min" -v hi="$due_max" '$2 + $3 < lo || $2 + $3 > hi' "$workdir/rounds.txt")
[ -z "$bad" ] || fail "finished + skipped rounds outside [$due_min, $due_max] for ${ran} s at ${INTERVAL} s: $(echo "$bad" | head -5 | tr '\n' ';')"

# Diagnoses per target.
grep '^meshprobe_probes_total{' "$m" >"$workdir/by_diagnosis.txt"
# A flip that lands inside a round, after the connect, cuts the rest of the
# exchange (dropped: the running phase's timeout; reset: its protocol
# error), so that round ends in a diagnosis of a later layer (tls_*, http_*,
# grpc_*, digits too: a reset during the HTTP/2 preface is grpc_not_h2; the
# gRPC call's round trips make it the likeliest). Each flip can catch at
# most one round of a target.
odd=$(grep 'target="flap-' "$workdir/by_diagnosis.txt" |
  grep -v 'diagnosis="\(ok\|tcp_timeout\|tcp_refused\|tls_[a-z0-9_]*\|http_[a-z0-9_]*\|grpc_[a-z0-9_]*\)"' || true)
[ -z "$odd" ] || fail "a flapping target got an unexpected diagnosis: $(echo "$odd" | head -3)"
# (grep finds nothing in most runs: `|| true`, or pipefail ends the script.)
caught=$({ grep 'target="flap-' "$workdir/by_diagnosis.txt" |
  grep 'diagnosis="\(tls_[a-z_]*\|http_[a-z_]*\|grpc_[a-z_]*\)"' || true; } |
  sed 's/.*target="\([^"]*\)".* \([0-9.e+]*\)$/\1 \2/' |
  awk -v f="$flips" '{ n[$1] += $2 } END { for (t in n) if (n[t] > f) print t, n[t] }')
[ -z "$caught" ] || fail "more rounds of a target caught mid-exchange than there were flips ($flips): $caught"
odd=$(grep 'target="steady-' "$workdir/by_diagnosis.txt" | grep -v 'diagnosis="ok"' || true)
[ -z "$odd" ] || fail "a steady target failed: $(echo "$odd" | head -3)"
if [ "$flips" -ge 2 ]; then
  for d in ok tcp_timeout tcp_refused; do
    n=$(grep 'target="flap-' "$workdir/by_diagnosis.txt" | grep -c "diagnosis=\"$d\"" || true)
    [ "$n" = "$flapping" ] || fail "only $n of $flapping flapping targets ever saw $d"
  done
fi
for d in ok tcp_timeout tcp_refused; do
  n=$(grep "diagnosis=\"$d\"" "$workdir/by_diagnosis.txt" | awk '{ s += $NF } END { print s + 0 }')
  note "  $d: $n probes"
done

# Transitions: each flapping address flips once per accept->failing and
# failing->accept change of the rules; steady addresses never.
grep '^meshprobe_transitions_total{' "$m" \
  | sed 's/.*target="\([^"]*\)".* \([0-9.e+]*\)$/\1 \2/' | sort >"$workdir/transitions.txt"
bad=$(awk -v e="$expected_transitions" '($1 ~ /^flap-/ && $2 != e) || ($1 ~ /^steady-/ && $2 != 0)' \
  "$workdir/transitions.txt")
[ -z "$bad" ] || fail "transitions differ from the flips made (expected $expected_transitions per flapping target, 0 steady): $(echo "$bad" | head -5 | tr '\n' ';')"

# The log says each change of state once: failing + recovered lines per
# target equal its transitions.
sed -n 's/.*event=\(probe_failing\|probe_recovered\) .*target=\([^ ]*\).*/\2/p' "$workdir/agent.log" \
  | sort | uniq -c | awk '{ print $2, $1 }' >"$workdir/logged.txt"
bad=$(join -a1 -e 0 -o 0,1.2,2.2 "$workdir/transitions.txt" "$workdir/logged.txt" | awk '$2 != $3')
[ -z "$bad" ] || fail "logged changes of state differ from meshprobe_transitions_total (target metric logged): $(echo "$bad" | head -5 | tr '\n' ';')"

kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=""
[ "$rc" = 0 ] || fail "the agent exited $rc on SIGTERM"
echo "PASS [$CASE]"
