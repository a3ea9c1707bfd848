#!/usr/bin/env bash
# Probe diagnoses under real network conditions: two network namespaces joined
# by a veth pair (192.0.2.1 client, 192.0.2.2 + 192.0.2.3 server), nftables
# rules in them, and a resolver bound inside the server namespace.
#
#   netns_probe_test.sh MESHPROBE TESTPEER CASE
#
# Needs root (network namespaces); exits 77 (skipped) otherwise. Everything it
# creates is removed on exit, whatever happens.
set -euo pipefail

MESHPROBE=$1
TESTPEER=$2
CASE=$3

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
require_root "network namespace tests need root (run as root or under sudo)"
need_tools ip nft jq

suffix="$$"
CLIENT="mpc-$suffix"
SERVER="mps-$suffix"

cleanup_hook() {
  ip netns del "$CLIENT" 2>/dev/null || true
  ip netns del "$SERVER" 2>/dev/null || true
  rm -rf "/etc/netns/$CLIENT"
}
make_workdir

ip netns add "$CLIENT"
ip netns add "$SERVER"
ip link add "c-$suffix" netns "$CLIENT" type veth peer name "s-$suffix" netns "$SERVER"
ip -n "$CLIENT" addr add 192.0.2.1/24 dev "c-$suffix"
ip -n "$SERVER" addr add 192.0.2.2/24 dev "s-$suffix"
ip -n "$SERVER" addr add 192.0.2.3/24 dev "s-$suffix"
for ns in "$CLIENT" "$SERVER"; do
  ip -n "$ns" link set lo up
  # Prompt ICMP errors: the default rate limit would delay them by ~1 s.
  ip netns exec "$ns" sysctl -q -w net.ipv4.icmp_ratelimit=0
done
ip -n "$CLIENT" link set "c-$suffix" up
ip -n "$SERVER" link set "s-$suffix" up

mkdir -p "/etc/netns/$CLIENT"
printf 'nameserver 192.0.2.2\noptions timeout:1 attempts:1\n' > "/etc/netns/$CLIENT/resolv.conf"

# Starts a testpeer inside the server namespace and waits for its "ready".
peers=0
serve() {
  peers=$((peers + 1))
  start_ready "$workdir/peer-$peers.out" ip netns exec "$SERVER" "$TESTPEER" "$@"
}

server_rules() { printf '%s\n' "$@" | ip netns exec "$SERVER" nft -f -; }
client_rules() { printf '%s\n' "$@" | ip netns exec "$CLIENT" nft -f -; }

# Runs `meshprobe check` in the client namespace; prints its JSON.
check() {
  local rc=0
  ip netns exec "$CLIENT" "$MESHPROBE" check --output json --vantage test "$@" \
    >"$workdir/out.json" 2>"$workdir/err.txt" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "meshprobe check failed with exit $rc"; cat "$workdir/err.txt"; exit 1
  fi
  cat "$workdir/out.json"
}

# Runs `check` on a config whose one target, tcp://192.0.2.2:15017, must stay
# blocked; leaves its JSON in $out and its exit code in $rc.
check_expect_blocked() {
  cat >"$workdir/expect.yaml" <<'YAML'
targets:
  - name: must-stay-closed
    url: tcp://192.0.2.2:15017
    expect: blocked
YAML
  rc=0
  ip netns exec "$CLIENT" "$MESHPROBE" check --output json --vantage test \
    --config "$workdir/expect.yaml" "$@" >"$workdir/out.json" 2>"$workdir/err.txt" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "meshprobe check failed with exit $rc"; cat "$workdir/err.txt"; exit 1
  fi
  out=$(cat "$workdir/out.json")
}

# expect JSON FIELD VALUE: the first result's FIELD equals VALUE.
expect() {
  local got
  got=$(jq -r ".results[0].$2" <<<"$1")
  [ "$got" = "$3" ] || fail "$2 is '$got', expected '$3' in: $(jq -c '.results[0]' <<<"$1")"
}
expect_message() {
  local got
  got=$(jq -r '.results[0].message' <<<"$1")
  [[ "$got" == *"$2"* ]] || fail "message '$got' does not mention '$2'"
}

elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# A 1 s timeout bounds the whole check within this: the process's start and
# exit (slow under TSan on a busy machine) fit, while a wait left to the
# kernel (SYN retries: 1 s, 3 s, 7 s, ...; a resolver's 5 s) does not.
TIMEOUT_BOUND_MS=3000

case "$CASE" in
  drop_is_tcp_timeout)
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 drop; }; }'
    start=$(date +%s%N)
    out=$(check --timeout 1s tcp://192.0.2.2:15017)
    took=$(elapsed_ms "$start")
    expect "$out" diagnosis tcp_timeout
    expect "$out" failed_phase connect
    [ "$took" -lt "$TIMEOUT_BOUND_MS" ] || fail "check took ${took} ms for a 1 s timeout"
    ;;
  reject_with_reset_is_tcp_refused)
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 reject with tcp reset; }; }'
    out=$(check --timeout 2s tcp://192.0.2.2:15017)
    expect "$out" diagnosis tcp_refused
    expect_message "$out" "TCP reset"
    ;;
  reject_admin_prohibited_is_tcp_unreachable)
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 reject with icmpx type admin-prohibited; }; }'
    out=$(check --timeout 2s tcp://192.0.2.2:15017)
    expect "$out" diagnosis tcp_unreachable
    expect_message "$out" "admin-prohibited"
    expect_message "$out" "from the target 192.0.2.2"
    ;;
  reject_port_unreachable_is_tcp_refused_by_icmp)
    # What kube-proxy installs for a Service without ready endpoints.
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 443 reject; }; }'
    out=$(check --timeout 2s tcp://192.0.2.2:443)
    expect "$out" diagnosis tcp_refused
    expect_message "$out" "ICMP port-unreachable"
    ;;
  own_node_reject_names_this_node)
    client_rules 'table inet t { chain outbound { type filter hook output priority 0; tcp dport 15017 reject with icmpx type admin-prohibited; }; }'
    out=$(check --timeout 2s tcp://192.0.2.2:15017)
    expect "$out" diagnosis tcp_unreachable
    expect_message "$out" "this node"
    ;;
  late_icmp_is_not_a_timeout)
    # The rejecting host answers a second late (its ICMP rate limit): an
    # error that arrives before the deadline is still a rejection.
    ip netns exec "$SERVER" sysctl -q -w net.ipv4.icmp_ratelimit=1000 net.ipv4.icmp_msgs_burst=1
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 reject with icmpx type admin-prohibited; }; }'
    check --timeout 2s tcp://192.0.2.2:15017 >/dev/null  # spends the burst
    out=$(check --timeout 3s tcp://192.0.2.2:15017)
    expect "$out" diagnosis tcp_unreachable
    ;;
  dns_found_resolves_and_connects)
    serve serve --listen 192.0.2.2:15012 --mode tcp_silent
    serve dns --listen 192.0.2.2:53 --a istiod.istio-system.svc=192.0.2.2
    out=$(check --timeout 3s tcp://istiod.istio-system.svc:15012)
    expect "$out" diagnosis ok
    expect "$out" address 192.0.2.2
    [ "$(jq '.results[0].phases.resolve > 0' <<<"$out")" = true ] || fail "no resolve phase timing"
    ;;
  dns_nxdomain_is_dns_not_found)
    serve dns --listen 192.0.2.2:53 --nxdomain istiod-asm-1122-0.istio-system.svc
    out=$(check --timeout 3s tcp://istiod-asm-1122-0.istio-system.svc:15012)
    expect "$out" diagnosis dns_not_found
    expect "$out" failed_phase resolve
    ;;
  dns_servfail_is_dns_failure)
    serve dns --listen 192.0.2.2:53 --servfail istiod.istio-system.svc
    out=$(check --timeout 3s tcp://istiod.istio-system.svc:15012)
    expect "$out" diagnosis dns_failure
    ;;
  dns_silence_is_dns_failure_within_timeout)
    serve dns --listen 192.0.2.2:53 --drop istiod.istio-system.svc
    start=$(date +%s%N)
    out=$(check --timeout 1s tcp://istiod.istio-system.svc:15012)
    took=$(elapsed_ms "$start")
    expect "$out" diagnosis dns_failure
    [ "$took" -lt "$TIMEOUT_BOUND_MS" ] || fail "check took ${took} ms for a 1 s timeout"
    ;;
  name_with_two_addresses_gives_two_results)
    serve serve --listen 192.0.2.2:15012 --mode tcp_silent
    serve dns --listen 192.0.2.2:53 --a istiod.istio-system.svc=192.0.2.2 --a istiod.istio-system.svc=192.0.2.3
    out=$(check --timeout 2s tcp://istiod.istio-system.svc:15012)
    [ "$(jq '.results | length' <<<"$out")" = 2 ] || fail "expected 2 results: $out"
    [ "$(jq -r '[.results[] | .address + "=" + .diagnosis] | sort | join(",")' <<<"$out")" = \
      "192.0.2.2=ok,192.0.2.3=tcp_refused" ] || fail "unexpected per-address results: $out"
    ;;
  expect_blocked_passes_when_the_firewall_drops)
    serve serve --listen 192.0.2.2:15017 --mode tcp_silent
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 drop; }; }'
    check_expect_blocked --timeout 1s
    expect "$out" success true
    expect "$out" diagnosis ok
    expect "$out" observed tcp_timeout
    [ "$rc" = 0 ] || fail "exit $rc for a path blocked as expected"
    ;;
  expect_blocked_passes_when_the_firewall_rejects)
    serve serve --listen 192.0.2.2:15017 --mode tcp_silent
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 reject with icmpx type admin-prohibited; }; }'
    check_expect_blocked --timeout 2s
    expect "$out" success true
    expect "$out" observed tcp_unreachable
    [ "$rc" = 0 ] || fail "exit $rc for a path blocked as expected"
    ;;
  expect_blocked_fails_unexpectedly_reachable_once_the_rule_is_removed)
    serve serve --listen 192.0.2.2:15017 --mode tcp_silent
    server_rules 'table inet t { chain inbound { type filter hook input priority 0; tcp dport 15017 drop; }; }'
    check_expect_blocked --timeout 1s
    expect "$out" success true
    server_rules 'delete table inet t'
    check_expect_blocked --timeout 1s
    expect "$out" success false
    expect "$out" diagnosis unexpectedly_reachable
    expect "$out" observed ok
    expect_message "$out" "the path the firewall must keep closed is open"
    [ "$rc" = 1 ] || fail "exit $rc for a path that opened, expected 1"
    ;;
  *)
    echo "unknown case: $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
