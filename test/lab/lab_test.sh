#!/usr/bin/env bash
# The private-cluster lab's automated tests (CTest label `lab`). Each test
# builds the lab, runs one case and removes the lab again in an EXIT trap,
# then fails if anything was left behind (namespaces, /etc/netns entries,
# processes, the state directory).
#
#   lab_test.sh MESHPROBE TESTPEER CASE
#
# CASE:
#   scenario:NAME           switch to scenario NAME; every target from both
#                           vantages must get its expected diagnosis
#   detection_latency       agent in the control-plane network; the firewall
#                           closes 15017, then opens it again: probe_success
#                           must follow within one interval plus one timeout
#   no_false_alarms         agents in both vantages on a healthy lab for
#                           LAB_SOAK_SECONDS (default 180): no failed probe
#                           (interval and timeout: LAB_SOAK_INTERVAL_SECONDS,
#                           LAB_SOAK_TIMEOUT_SECONDS, default 3 and 3)
#   cleanup_after_failure   a scenario test with a deliberately wrong
#                           expectation fails and leaves nothing behind; a lab
#                           with agents is removed by `down`, twice
#   admission:NAME          the emulated API server in the control-plane
#                           network (`lab.sh apiserver`), scenario NAME
#                           (healthy or firewall), then `check --kubeconfig`
#                           from the node: the inject admission probe and the
#                           webhook's verdict must say what the API server's
#                           own call met (needs GOPEER and python3)
#
# Needs root; exits 77 (skipped) otherwise. The lab's names are fixed, so
# these tests hold the CTest resource lock `lab`.
set -euo pipefail

export MESHPROBE=$1 TESTPEER=$2
CASE=$3
LAB_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh
# shellcheck source-path=SCRIPTDIR source=lab.sh
source "$LAB_SH"
require_lab_host
# Another build tree's ctest may run these tests at the same time: wait for
# its test to finish (a soak holds the lab for minutes), skip if it does not.
acquire_lab_lock "${LAB_LOCK_WAIT:-240}" "lab_test.sh $CASE ($MESHPROBE)"

reported=0
fail() { echo "FAIL [$CASE]: $*"; reported=1; exit 1; }

finish() {
  local rc=$?
  trap - EXIT
  # shellcheck disable=SC2046 # this script's own background jobs (the soak's sleep)
  kill $(jobs -p) 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$reported" = 0 ]; then echo "FAIL [$CASE]: exit $rc"; fi
  if [ "$rc" -ne 0 ] && [ -d "$STATE/logs" ]; then
    local file
    for file in "$STATE"/logs/*.log; do
      [ -s "$file" ] && { echo "--- $(basename "$file") (last lines)"; tail -5 "$file"; }
    done
  fi
  lab_down >/dev/null 2>&1 || true
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "FAIL [$CASE]: the lab left behind:"
    echo "$left"
    rc=1
  fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
seconds() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

# The value of one series of the agent's /metrics in vantage $1: the first
# line whose name is $2 and whose labels contain every fragment in $3...
metric() {
  local vantage=$1 name=$2
  shift 2
  lab_curl "$vantage" /metrics | awk -v name="$name" -v want="$*" '
    BEGIN { n = split(want, parts, " ") }
    index($0, name "{") == 1 {
      ok = 1
      for (i = 1; i <= n; i++) if (index($0, parts[i]) == 0) ok = 0
      if (ok) { print $NF; exit }
    }'
}

# Waits (polling every 50 ms, up to $1 ms) until probe_success of target $3
# in vantage $2 equals $4; prints the time it was seen (ms since the epoch).
wait_for_success_value() {
  local limit=$1 vantage=$2 target=$3 value=$4 start got
  start=$(now_ms)
  while :; do
    got=$(metric "$vantage" probe_success "target=\"$target\"" || true)
    if [ "$got" = "$value" ]; then now_ms; return 0; fi
    [ $(( $(now_ms) - start )) -lt "$limit" ] || return 1
    sleep 0.05
  done
}

case "$CASE" in
  scenario:*)
    name=${CASE#scenario:}
    lab_up
    if [ "${LAB_TEST_START_AGENTS:-0}" = 1 ]; then
      lab_agent node
      lab_agent cp
    fi
    # Not `lab_scenario || fail`: errexit must stay in force inside it.
    lab_scenario "$name"
    ;;

  detection_latency)
    # The agent in the control-plane network probes istiod's pod on 15017
    # every interval; at t0 the firewall closes 15017 (the private cluster's
    # default rule). probe_success must drop to 0 within one interval plus one
    # timeout, and come back to 1 as fast once the rule allows 15017 again.
    interval_ms=${LAB_LATENCY_INTERVAL_MS:-2000}
    timeout_ms=${LAB_LATENCY_TIMEOUT_MS:-1000}
    rounds=${LAB_LATENCY_ROUNDS:-3}
    bound_ms=$(( interval_ms + timeout_ms ))
    # The scheduler spreads each round by up to +-5% of the interval, so two
    # rounds can be up to 10% of the interval further apart; polling adds up
    # to ~100 ms. Both are allowed on top of the bound and printed with it.
    allowed_ms=$(( bound_ms + interval_ms / 10 + 150 ))
    # shellcheck disable=SC2034 # read by lab_agent (lab.sh)
    AGENT_INTERVAL=${interval_ms}ms AGENT_TIMEOUT=${timeout_ms}ms
    lab_up
    lab_agent cp
    wait_for_success_value 10000 cp webhook-pod 1 >/dev/null || fail "the agent never saw the webhook pass"
    worst_detect=0 worst_recover=0
    for round in $(seq 1 "$rounds"); do
      # Start at a different point of the agent's schedule each round.
      sleep "$(awk -v r="$RANDOM" -v i="$interval_ms" 'BEGIN { printf "%.3f", r / 32767 * i / 1000 }')"
      set_firewall private-default
      t0=$(now_ms)
      seen=$(wait_for_success_value $(( allowed_ms + 3000 )) cp webhook-pod 0) \
        || fail "round $round: probe_success still 1 $(seconds $(( allowed_ms + 3000 ))) s after the firewall closed"
      detect_ms=$(( seen - t0 ))
      diagnosis=$(metric cp meshprobe_diagnosis 'target="webhook-pod"' 'diagnosis="tcp_timeout"')
      [ "$diagnosis" = 1 ] || fail "round $round: the diagnosis is not tcp_timeout: $(lab_curl cp /metrics | grep '^meshprobe_diagnosis{.*webhook-pod\"' )"

      # Let a probe or two see the closed port before it opens again.
      sleep 0.5
      set_firewall webhook-open
      t1=$(now_ms)
      seen=$(wait_for_success_value $(( allowed_ms + 3000 )) cp webhook-pod 1) \
        || fail "round $round: probe_success still 0 $(seconds $(( allowed_ms + 3000 ))) s after the firewall opened"
      recover_ms=$(( seen - t1 ))
      echo "lab round=$round detection_latency_seconds=$(seconds "$detect_ms") recovery_seconds=$(seconds "$recover_ms") bound_seconds=$(seconds "$bound_ms")"
      [ "$detect_ms" -gt "$worst_detect" ] && worst_detect=$detect_ms
      [ "$recover_ms" -gt "$worst_recover" ] && worst_recover=$recover_ms
    done
    echo "lab detection_latency_seconds=$(seconds "$worst_detect") recovery_seconds=$(seconds "$worst_recover")" \
         "bound_seconds=$(seconds "$bound_ms") allowed_seconds=$(seconds "$allowed_ms")" \
         "(worst of $rounds rounds; interval $(seconds "$interval_ms") s, timeout $(seconds "$timeout_ms") s)"
    [ "$worst_detect" -le "$allowed_ms" ] || fail "detection took $(seconds "$worst_detect") s, more than $(seconds "$allowed_ms") s"
    [ "$worst_recover" -le "$allowed_ms" ] || fail "recovery took $(seconds "$worst_recover") s, more than $(seconds "$allowed_ms") s"
    ;;

  no_false_alarms)
    # A healthy lab, both vantages probing every target for LAB_SOAK_SECONDS:
    # every finished probe must be `ok`. The timeout is the product's default
    # (3 s), the interval the shortest that allows it: a 1 s timeout on a
    # loaded 2-core CI machine measures the machine's scheduling stalls.
    soak=${LAB_SOAK_SECONDS:-180}
    interval_s=${LAB_SOAK_INTERVAL_SECONDS:-3}
    timeout_s=${LAB_SOAK_TIMEOUT_SECONDS:-3}
    # shellcheck disable=SC2034 # read by lab_agent (lab.sh)
    AGENT_INTERVAL=${interval_s}s AGENT_TIMEOUT=${timeout_s}s
    lab_up
    lab_agent node
    lab_agent cp
    echo "lab soak: ${soak} s, every target every ${interval_s} s (timeout ${timeout_s} s) from both vantages"
    # In the background: a trapped TERM or INT ends the wait at once.
    sleep "$soak" &
    wait $!
    total=0 failed=0 expected_probes=0
    for vantage in node cp; do
      pid=$(cat "$STATE/pids/agent-$vantage.pid")
      alive "$pid" || fail "the $vantage agent died: $(tail -5 "$STATE/logs/agent-$vantage.log")"
      counts=$(lab_curl "$vantage" /metrics | awk '
        index($0, "meshprobe_probes_total{") == 1 {
          match($0, /diagnosis="[^"]*"/)
          d = substr($0, RSTART + 11, RLENGTH - 12)
          n[d] += $NF
        }
        END { for (d in n) printf "%s=%d\n", d, n[d] }')
      v_total=0 v_failed=0
      while IFS='=' read -r diagnosis count; do
        [ -n "$diagnosis" ] || continue
        v_total=$(( v_total + count ))
        [ "$diagnosis" = ok ] || { v_failed=$(( v_failed + count )); echo "lab $vantage: $count probe(s) with $diagnosis"; }
      done <<<"$counts"
      targets=$(lab_targets | grep -c "^$vantage|")
      skipped=$(lab_curl "$vantage" /metrics | awk 'index($0, "meshprobe_probes_skipped_total") == 1 && $1 !~ /^#/ { s += $NF } END { print s + 0 }')
      echo "lab $vantage: probes=$v_total failed=$v_failed skipped_rounds=$skipped targets=$targets"
      total=$(( total + v_total )); failed=$(( failed + v_failed ))
      expected_probes=$(( expected_probes + targets * soak / interval_s ))
    done
    echo "lab soak_seconds=$soak probes=$total failed=$failed expected_probes~$expected_probes"
    [ "$failed" = 0 ] || fail "$failed false alarm(s) on a healthy lab"
    # A stalled agent also makes no false alarms: it must have kept probing.
    [ $(( total * 10 )) -ge $(( expected_probes * 8 )) ] || fail "only $total probes in ${soak} s (expected about $expected_probes)"
    ;;

  cleanup_after_failure)
    # 1. A scenario test whose assertion is deliberately wrong (and which runs
    #    agents as well): it must fail, and leave nothing behind.
    out=$(LAB_EXTRA_EXPECTATIONS="cp webhook-pod ok" LAB_TEST_START_AGENTS=1 \
            "${BASH_SOURCE[0]}" "$MESHPROBE" "$TESTPEER" scenario:firewall 2>&1) && rc=0 || rc=$?
    while IFS= read -r line; do echo "  | $line"; done <<<"$out"
    [ "$rc" = 1 ] || fail "the deliberately failing scenario exited $rc, not 1"
    grep -q 'control-plane  webhook-pod .*FAIL' <<<"$out" || fail "the wrong expectation was not reported"
    left=$(leftovers)
    [ -z "$left" ] || fail "a failed test left behind: $left"
    echo "lab: a failed scenario test left nothing behind"

    # 2. A lab brought up twice (the second `up` replaces the first), with
    #    agents and every scenario's processes, removed by `down` - twice.
    lab_up >/dev/null
    lab_up >/dev/null
    lab_agent node >/dev/null
    lab_agent cp >/dev/null
    apply_scenario webhook-hung
    [ "$(ip netns list | grep -c '^mplab-')" = 5 ] || fail "expected 5 lab namespaces: $(ip netns list)"
    [ -n "$(lab_pids)" ] || fail "no lab processes found while the lab is up"
    lab_down || fail "down reported leftovers"
    lab_down || fail "a second down failed"
    left=$(leftovers)
    [ -z "$left" ] || fail "down left behind: $left"
    echo "lab: down removed namespaces, processes, /etc/netns entries and state; a second down is a no-op"
    ;;

  admission:*)
    name=${CASE#admission:}
    case "$name" in healthy|firewall) ;; *) echo "unknown admission scenario: $name"; exit 2 ;; esac
    require_apiserver_tools
    lab_up
    lab_apiserver
    apply_scenario "$name"
    out=$STATE/checks/admission-$name.json
    started=$(now_ms)
    rc=0
    admission_check --output json >"$out" 2>"$STATE/checks/admission-$name.err" || rc=$?
    took_ms=$(( $(now_ms) - started ))
    # What an engineer would read: the table, with its WEBHOOKS section.
    admission_check --color never 2>&1 | sed 's/^/  | /' || true
    echo "lab admission scenario=$name check_seconds=$(seconds "$took_ms") exit=$rc"
    expect_json() {  # expect_json WHAT JQ_FILTER: the check's JSON must match
      jq -e "$2" "$out" >/dev/null \
        || fail "$1: $(jq -c '{results: [.results[] | {name, diagnosis, message}], verdicts}' "$out" 2>/dev/null \
                        || cat "$out" "$STATE/checks/admission-$name.err")"
    }
    inject='.results[] | select(.name == "injection-dry-run")'
    verdict='.verdicts[] | select(.webhook == "namespace.sidecar-injector.istio.io")'
    # From the node, istiod's pod answers on 15017 in both scenarios: the
    # agent's own view, which the verdict weighs against the API server's.
    expect_json "the node does not reach istiod's pod" \
      '.results[] | select(.name == "istiod-webhook-pods") | .diagnosis == "ok" and .address == "'"$POD_IP"'"'
    if [ "$name" = healthy ]; then
      [ "$rc" = 0 ] || fail "check exited $rc on a healthy lab"
      expect_json "the inject dry run did not come back with a sidecar" \
        "$inject"' | .diagnosis == "ok" and .vantage == "apiserver" and (.message | test("istio-proxy"))'
      expect_json "the validation dry run was not denied by istiod" \
        '.results[] | select(.name == "validation-dry-run") | .diagnosis == "ok"'
      expect_json "the injector's verdict is not a confirmed ok" \
        "$verdict"' | .diagnosis == "ok" and .hop == "none" and .confirmed'
    else
      [ "$rc" = 1 ] || fail "check exited $rc, not 1, behind the firewall"
      # The API server's words: Go's net/http, dialling the pod from the
      # control-plane network through the firewall that drops 15017.
      expect_json "the inject probe does not carry the API server's words" \
        "$inject"' | (.diagnosis == "tcp_timeout" or .diagnosis == "webhook_timeout") and .vantage == "apiserver"
          and (.message | test("failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to call webhook: Post \"https://istiod.istio-system.svc:443/inject"))
          and (.message | test("dial tcp '"$POD_IP:$WEBHOOK_PORT"': i/o timeout|context deadline exceeded"))'
      expect_json "the injector's verdict does not name the firewall" \
        "$verdict"' | (.diagnosis == "tcp_timeout" or .diagnosis == "webhook_timeout")
          and .hop == "control_plane_network" and .confirmed
          and (.message | test("the API server cannot reach istiod pod '"$ISTIOD_POD $POD_IP:$WEBHOOK_PORT"'"))
          and (.message | test("while this agent in the pod network reaches it: a firewall between the control plane and the nodes"))
          and (.message | test("blocks TCP '"$WEBHOOK_PORT"'"))
          and (.remedy | test("'"$WEBHOOK_PORT"'"))'
      # The call really went through the firewall: its drop rule counted it.
      drops=$(in_ns "$NS_FW" nft list chain inet private_cluster control_plane_to_nodes \
                | awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
      [ "${drops:-0}" -gt 0 ] || fail "the firewall dropped nothing: the API server's call did not cross it"
      echo "lab admission: the firewall dropped $drops packet(s) of the API server's calls"
    fi
    # `down` ends the emulated API server with the rest of the lab.
    apiserver_pid=$(cat "$STATE/pids/apiserver.pid")
    alive "$apiserver_pid" || fail "the emulated API server died: $(tail -5 "$STATE/logs/apiserver.log")"
    lab_down >/dev/null || fail "down reported leftovers"
    ! alive "$apiserver_pid" || fail "down left the emulated API server (pid $apiserver_pid) running"
    ;;

  *)
    echo "unknown case: $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
