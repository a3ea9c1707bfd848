#!/usr/bin/env bash
# `meshprobe check`, `explain` and `version` as a user runs them: exit codes,
# the JSON shape of the README's "meshprobe check" section, the table, usage errors, and
# --watch (on a pseudo-terminal and through a pipe). Real servers on loopback.
#
#   check_cli_test.sh MESHPROBE TESTPEER CASE
set -euo pipefail

MESHPROBE=$1
TESTPEER=$2
CASE=$3

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
make_workdir

run() {  # run EXPECTED_EXIT ARGS...: runs meshprobe, checks the exit code
  local expected=$1 rc=0
  shift
  "$MESHPROBE" "$@" >"$workdir/out" 2>"$workdir/err" || rc=$?
  [ "$rc" = "$expected" ] || fail "exit $rc, expected $expected for: meshprobe $* (stderr: $(cat "$workdir/err"))"
}

# --watch's helpers: the watch runs in the background, its pid in watch_pid.

# watch_piped OUT ARGS...: `meshprobe check ARGS` with stdout to OUT, not a terminal.
watch_piped() {
  local out=$1
  shift
  "$MESHPROBE" check "$@" >"$out" 2>"$workdir/err" &
  watch_pid=$!
  waited_pid=$watch_pid
  track_pid "$watch_pid"
}

# watch_on_terminal OUT ARGS...: the same under a pseudo-terminal (script),
# so that stdout is a terminal; OUT gets what the terminal shows. waited_pid
# is script's pid: it exits with meshprobe's status.
watch_on_terminal() {
  local out=$1 command
  shift
  command=$(printf '%q ' "$MESHPROBE" check "$@")
  script -qfec "echo \$\$ >'$workdir/watch.pid'; exec $command" /dev/null </dev/null >"$out" 2>&1 &
  waited_pid=$!
  track_pid "$waited_pid"
  eventually 5 test -s "$workdir/watch.pid" || fail "the watch did not start under script"
  watch_pid=$(cat "$workdir/watch.pid")
  track_pid "$watch_pid"
}

# exited PID: the process is gone or a zombie (a child not yet waited for).
exited() {
  local state
  state=$(ps -o stat= -p "$1") || return 0
  [[ $state == Z* ]]
}

# wait_watch SECONDS: waits at most SECONDS for the watch to end; sets
# watch_rc and took_ms (since the call).
wait_watch() {
  local start
  start=$(date +%s%N)
  eventually "$1" exited "$waited_pid" || fail "the watch was still running after $1 s: $(cat -v "$watch_out")"
  took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  watch_rc=0
  wait "$waited_pid" || watch_rc=$?
}

# has_lines COUNT FILE: FILE has at least COUNT whole lines.
has_lines() { [ "$(wc -l <"$2")" -ge "$1" ]; }

# readable FILE: what a terminal's output reads as, without its escape
# sequences and carriage returns.
readable() { sed $'s/\e\\[[0-9;]*[A-Za-z]//g; s/\r//g' "$1"; }

# open_port PORT: something starts listening on PORT (and accepts).
open_port() {
  start_ready "$workdir/peer-$1.out" "$TESTPEER" serve --listen "127.0.0.1:$1" --mode tcp_silent
}

# signal_ends_watch SIGNAL EXPECTED_EXIT [ARGS...]: a watch whose round is in
# flight (a TLS handshake nobody answers, a long timeout) ends within a
# second of SIGNAL, with EXPECTED_EXIT.
signal_ends_watch() {
  local signal=$1 expected=$2 port
  shift 2
  port=$(serve --mode tcp_silent)
  watch_out="$workdir/out"
  watch_piped "$watch_out" --watch=300ms --timeout 20s "$@" "tls://127.0.0.1:$port"
  sleep 0.5
  kill "-$signal" "$watch_pid"
  wait_watch 5
  [ "$watch_rc" = "$expected" ] || fail "exit $watch_rc after SIG$signal, expected $expected"
  # The probe in flight would take 20 s: ending well before proves the round
  # was cancelled; 3 s leaves room for a sanitizer build on a busy machine.
  [ "$took_ms" -lt 3000 ] || fail "SIG$signal took ${took_ms} ms to end the watch"
}

rfc3339='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc --san istiod-asm-1122-0.istio-system.svc >/dev/null

case "$CASE" in
  version_prints_version)
    run 0 version
    grep -Eq '^meshprobe [0-9]+\.[0-9]+\.[0-9]+' "$workdir/out" || fail "version output: $(cat "$workdir/out")"
    ;;
  bad_url_is_usage_error)
    run 2 check ftp://istiod.istio-system.svc:21
    grep -q 'unknown scheme' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  bad_timeout_is_usage_error)
    run 2 check --timeout 3x tcp://127.0.0.1:1
    grep -q 'timeout' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  unknown_option_is_usage_error)
    run 2 check --no-such-option
    ;;
  missing_ca_file_is_usage_error)
    run 2 check --ca-file "$workdir/missing.pem" tls://127.0.0.1:1
    grep -q 'missing.pem' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  all_ok_exits_zero_with_spec_json)
    port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    run 0 check --output json --vantage bastion --ca-file "$workdir/pki/ca.pem" \
      --server-name istiod.istio-system.svc "https://127.0.0.1:$port/ready"
    jq -e --arg url "https://127.0.0.1:$port/ready" '
      (.summary == {"total": 1, "failed": 0}) and
      (.results[0] | .name == $url and .url == $url and .address == "127.0.0.1"
        and .vantage == "bastion" and .success == true and .diagnosis == "ok"
        and (.phases | has("resolve") | not) and .phases.connect > 0
        and .phases.tls > 0 and .phases.app > 0
        and .tls.version == "TLSv1.3" and .tls.alpn == "http/1.1"
        and (.tls.chain[0].sans | index("istiod.istio-system.svc") != null)
        and (.tls.chain[0].not_after | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")))' \
      "$workdir/out" >/dev/null || fail "JSON does not have the README's shape: $(cat "$workdir/out")"
    ;;
  some_failed_exits_one_with_diagnosis_and_remedy)
    port=$(free_port)
    run 1 check --output json "tcp://127.0.0.1:$port"
    jq -e '(.summary == {"total": 1, "failed": 1}) and
           (.results[0] | .success == false and .diagnosis == "tcp_refused"
             and (.remedy | length > 0) and (.message | length > 0))' \
      "$workdir/out" >/dev/null || fail "JSON: $(cat "$workdir/out")"
    ;;
  table_names_target_phase_diagnosis_and_remedy)
    port=$(free_port)
    run 1 check --color never "tcp://127.0.0.1:$port"
    for word in "tcp://127.0.0.1:$port" 127.0.0.1 FAIL connect tcp_refused remedy; do
      grep -q -- "$word" "$workdir/out" || fail "table lacks '$word': $(cat "$workdir/out")"
    done
    if grep -q $'\e\[' "$workdir/out"; then fail "colour escapes with --color never"; fi
    ;;
  table_is_coloured_when_asked)
    port=$(free_port)
    run 1 check --color always "tcp://127.0.0.1:$port"
    grep -q $'\e\[' "$workdir/out" || fail "no colour with --color always"
    ;;
  server_name_and_ca_file_apply_to_every_target)
    port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    run 1 check --output json --ca-file "$workdir/pki/other-ca.pem" \
      --server-name istiod.istio-system.svc "tls://127.0.0.1:$port"
    jq -e '.results[0].diagnosis == "tls_unknown_authority"' "$workdir/out" >/dev/null \
      || fail "JSON: $(cat "$workdir/out")"
    ;;
  hung_server_does_not_outlive_timeout)
    port=$(serve --mode tcp_silent)
    start=$(date +%s%N)
    run 1 check --output json --timeout 1s "tls://127.0.0.1:$port" "https://127.0.0.1:$port/ready"
    took=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$took" -lt 1500 ] || fail "check took ${took} ms with a 1 s timeout"
    jq -e '[.results[].diagnosis] == ["tls_timeout", "tls_timeout"]' "$workdir/out" >/dev/null \
      || fail "JSON: $(cat "$workdir/out")"
    ;;
  fd_exhaustion_is_local_resource)
    # More concurrent probes than file descriptors: the shortfall is reported
    # as this machine's problem, and every other probe still gets its answer.
    port=$(free_port)
    targets=()
    for _ in $(seq 1 40); do targets+=("tcp://127.0.0.1:$port"); done
    rc=0
    (ulimit -n 16; exec "$MESHPROBE" check --output json "${targets[@]}") >"$workdir/out" || rc=$?
    [ "$rc" = 1 ] || fail "exit $rc"
    jq -e '(.summary.total == 40)
           and ([.results[] | select(.diagnosis == "local_resource")] | length > 0)
           and ([.results[] | select(.diagnosis == "tcp_refused")] | length > 0)
           and ([.results[] | .diagnosis] - ["local_resource", "tcp_refused"] == [])' \
      "$workdir/out" >/dev/null || fail "JSON: $(jq -c '[.results[].diagnosis]' "$workdir/out")"
    ;;
  builtin_targets_are_istiod_webhook_and_xds)
    # No cluster here: the names do not resolve, but the set is what is probed.
    run 1 check --output json --timeout 2s --revision asm-1122-0
    jq -e '[.results[].url] == [
        "https://istiod-asm-1122-0.istio-system.svc:15017/ready",
        "https://istiod-asm-1122-0.istio-system.svc:443/ready",
        "grpc://istiod-asm-1122-0.istio-system.svc:15012"]' "$workdir/out" >/dev/null \
      || fail "built-in targets: $(jq -c '[.results[].url]' "$workdir/out")"
    ;;
  config_targets_are_probed_once_with_their_settings)
    port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    refused=$(free_port)
    cat >"$workdir/config.yaml" <<YAML
vantage: bastion
node_name: bastion-1
ca_bundles:
  mesh: {file: pki/ca.pem}
targets:
  - name: webhook
    url: https://127.0.0.1:$port/ready
    ca: mesh
    server_name: istiod.istio-system.svc
  - name: closed
    url: tcp://127.0.0.1:$refused
YAML
    run 1 check --config "$workdir/config.yaml" --output json "tcp://127.0.0.1:$refused"
    jq -e '[.results[] | [.name, .vantage, .diagnosis]] == [
        ["webhook", "bastion", "ok"], ["closed", "bastion", "tcp_refused"],
        ["tcp://127.0.0.1:'"$refused"'", "bastion", "tcp_refused"]] and (has("hygiene") | not)' \
      "$workdir/out" >/dev/null || fail "JSON: $(cat "$workdir/out")"
    ;;
  bad_config_is_usage_error_with_file_and_line)
    printf 'targets:\n  - url: tcp://127.0.0.1:1\n    discover: pods\n' >"$workdir/config.yaml"
    run 2 check --config "$workdir/config.yaml"
    grep -q "config.yaml:3: \"discover\" must be endpoints or revisions" "$workdir/err" \
      || fail "stderr: $(cat "$workdir/err")"
    ;;
  watch_on_terminal_redraws_in_place_and_logs_the_port_opening)
    need_tools script
    port=$(free_port)
    watch_out="$workdir/out"
    watch_on_terminal "$watch_out" --watch=300ms --color never "tcp://127.0.0.1:$port"
    eventually 10 grep -q "round 2 " "$watch_out" || fail "no second round: $(cat -v "$watch_out")"
    open_port "$port"
    eventually 10 grep -q "tcp_refused -> ok" "$watch_out" || fail "no change line: $(cat -v "$watch_out")"
    kill -INT "$watch_pid"
    wait_watch 5
    [ "$watch_rc" = 0 ] || fail "exit $watch_rc after SIGINT"
    readable "$watch_out" | grep -Eq "^$rfc3339 tcp://127\.0\.0\.1:$port tcp_refused -> ok\$" \
      || fail "change line: $(cat -v "$watch_out")"
    grep -q $'\r\e\[[0-9]*A\e\[J' "$watch_out" || fail "no redraw in place: $(cat -v "$watch_out")"
    grep -Eq "every 300ms · round [0-9]+ · [0-9]{2}:[0-9]{2}:[0-9]{2}" "$watch_out" \
      || fail "no frame header: $(cat -v "$watch_out")"
    ;;
  watch_piped_prints_one_table_then_change_lines)
    port=$(free_port)
    watch_out="$workdir/out"
    watch_piped "$watch_out" --watch=300ms --color never "tcp://127.0.0.1:$port"
    sleep 1
    open_port "$port"
    eventually 10 grep -q "tcp_refused -> ok" "$watch_out" || fail "no change line: $(cat "$watch_out")"
    kill -INT "$watch_pid"
    wait_watch 5
    [ "$watch_rc" = 0 ] || fail "exit $watch_rc after SIGINT"
    if grep -q $'\e' "$watch_out"; then fail "escape sequences in a pipe: $(cat -v "$watch_out")"; fi
    [ "$(grep -c '^TARGET ' "$watch_out")" = 1 ] || fail "not one table: $(cat "$watch_out")"
    grep -Eq "^$rfc3339 tcp://127\.0\.0\.1:$port tcp_refused -> ok\$" "$watch_out" \
      || fail "change line: $(cat "$watch_out")"
    ;;
  watch_json_is_one_object_per_round)
    port=$(free_port)
    watch_out="$workdir/out"
    watch_piped "$watch_out" --watch=200ms --output json "tcp://127.0.0.1:$port"
    eventually 10 has_lines 3 "$watch_out" || fail "fewer than 3 rounds: $(cat "$watch_out")"
    kill -INT "$watch_pid"
    wait_watch 5
    [ "$watch_rc" = 0 ] || fail "exit $watch_rc after SIGINT"
    jq -e -s --arg time "^$rfc3339\$" '
      ([.[].round] == [range(1; length + 1)]) and
      all(.[]; (.time | test($time)) and .summary == {"total": 1, "failed": 1}
               and .results[0].diagnosis == "tcp_refused")' \
      "$watch_out" >/dev/null || fail "NDJSON: $(cat "$watch_out")"
    ;;
  watch_rounds_start_an_interval_apart)
    # Rounds of 700 ms (a handshake nobody answers) every 1 s, timed from the
    # first round's end (t = 0.7 s): start to start, the third ends at
    # 2.7 s; an interval after each end would put it at 4.1 s.
    port=$(serve --mode tcp_silent)
    watch_out="$workdir/out"
    watch_piped "$watch_out" --watch=1s --timeout 700ms --output json "tls://127.0.0.1:$port"
    eventually 10 has_lines 1 "$watch_out" || fail "no first round"
    sleep 2.3
    kill -INT "$watch_pid"
    wait_watch 5
    [ "$(wc -l <"$watch_out")" = 3 ] || fail "not 3 rounds by 3 s: $(jq -c '[.round, .time]' "$watch_out")"
    ;;
  until_ok_exits_zero_soon_after_the_port_opens)
    port=$(free_port)
    watch_out="$workdir/out"
    watch_piped "$watch_out" --until-ok --watch=300ms --color never "tcp://127.0.0.1:$port"
    sleep 1
    exited "$watch_pid" && fail "ended before the port opened: $(cat "$watch_out")"
    open_port "$port"
    wait_watch 5
    [ "$watch_rc" = 0 ] || fail "exit $watch_rc once the port opened: $(cat "$watch_out")"
    [ "$took_ms" -lt 2000 ] || fail "${took_ms} ms from the port opening to the exit"
    grep -q "tcp_refused -> ok" "$watch_out" || fail "no change line: $(cat "$watch_out")"
    tail -n 1 "$watch_out" | grep -Eq "^$rfc3339 every target passes\$" \
      || fail "last line: $(tail -n 1 "$watch_out")"
    ;;
  max_wait_exits_one_within_its_bound)
    port=$(free_port)
    watch_out="$workdir/out"
    watch_piped "$watch_out" --until-ok --max-wait 1500ms --watch=300ms --color never \
      "tcp://127.0.0.1:$port"
    wait_watch 10
    [ "$watch_rc" = 1 ] || fail "exit $watch_rc with the port never open"
    [ "$took_ms" -ge 1400 ] && [ "$took_ms" -lt 3000 ] || fail "took ${took_ms} ms for --max-wait 1500ms"
    # The last state (reprinted, unless the first table is the only round)
    # ends just above the line saying how the wait ended.
    tail -n 2 "$watch_out" | head -n 1 | grep -q '^1 target, 1 failed' \
      || fail "the last state is not shown: $(cat "$watch_out")"
    tail -n 1 "$watch_out" | grep -Eq "^$rfc3339 max-wait passed, not every target passes\$" \
      || fail "last line: $(tail -n 1 "$watch_out")"
    ;;
  sigint_ends_a_watch_promptly_with_exit_zero)
    signal_ends_watch INT 0
    ;;
  sigterm_ends_a_watch_promptly_with_exit_zero)
    signal_ends_watch TERM 0
    ;;
  interrupted_until_ok_exits_one)
    signal_ends_watch INT 1 --until-ok
    ;;
  max_wait_without_until_ok_is_usage_error)
    run 2 check --watch --max-wait 5s tcp://127.0.0.1:1
    grep -q -- '--max-wait needs --until-ok' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  zero_watch_interval_is_usage_error)
    run 2 check --watch=0s tcp://127.0.0.1:1
    grep -q -- '--watch: the interval must be positive' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  watch_interval_apart_from_the_flag_is_usage_error)
    run 2 check --watch 1s tcp://127.0.0.1:1
    grep -q -- 'an interval is written --watch=1s' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  explain_guide_error_exits_zero_with_json_shape)
    run 0 explain --output json 'Error from server (InternalError): Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io": Post "https://istiod-asm-1122-0.istio-system.svc:443/inject?timeout=10s": context deadline exceeded'
    jq -e '(.recognised == true) and (.closest == []) and (.matches | length == 1) and
      (.matches[0] | .id == "webhook_deadline" and .diagnosis == "webhook_timeout"
        and .doc == "docs/diagnoses.md#webhook_timeout"
        and (.title | length > 0) and (.cause | length > 0) and (.remedy | length > 0)
        and (.hop | length > 0)
        and .check_command == "meshprobe check --kubeconfig ~/.kube/config --revision asm-1122-0"
        and .found == {"service": "istiod-asm-1122-0", "namespace": "istio-system",
                       "revision": "asm-1122-0", "port": "443", "ips": [],
                       "webhook": "rev.namespace.sidecar-injector.istio.io"})' \
      "$workdir/out" >/dev/null || fail "JSON: $(cat "$workdir/out")"
    ;;
  explain_words_are_joined_into_one_text)
    run 0 explain --output json no endpoints available for service "'istiod-1-22'"
    jq -e '.matches[0].id == "no_endpoints" and .matches[0].found.revision == "1-22"' \
      "$workdir/out" >/dev/null || fail "JSON: $(cat "$workdir/out")"
    ;;
  explain_reads_standard_input_for_dash)
    printf '%s\n%s\n' 'info  Envoy proxy is NOT ready: config not received from Pilot (is Pilot running?): cds updates: 1 successful, 0 rejected; lds updates: 0 successful, 1 rejected' \
      'warning envoy config StreamAggregatedResources gRPC config stream closed: 14, no healthy upstream' \
      >"$workdir/log"
    rc=0
    "$MESHPROBE" explain - <"$workdir/log" >"$workdir/out" 2>"$workdir/err" || rc=$?
    [ "$rc" = 0 ] || fail "exit $rc (stderr: $(cat "$workdir/err"))"
    grep -q '^discovery_address: ' "$workdir/out" || fail "table: $(cat "$workdir/out")"
    grep -q '^rejected_configuration: ' "$workdir/out" || fail "table: $(cat "$workdir/out")"
    grep -q 'check:     meshprobe check grpc://istiod.istio-system.svc:15012$' "$workdir/out" \
      || fail "table: $(cat "$workdir/out")"
    ;;
  explain_unrecognised_exits_one_with_closest_rows)
    run 1 explain --output json 'Envoy proxy is NOT ready: config not received from Pilot'
    jq -e '(.recognised == false) and (.matches == []) and
      (.closest | length > 0) and (.closest[0].id == "rejected_configuration")' \
      "$workdir/out" >/dev/null || fail "JSON: $(cat "$workdir/out")"
    run 1 explain 'the quick brown fox'
    grep -q '^not recognised' "$workdir/out" || fail "table: $(cat "$workdir/out")"
    ;;
  explain_stdin_over_a_mebibyte_is_usage_error)
    head -c 1048577 /dev/zero | tr '\0' a >"$workdir/big"
    rc=0
    "$MESHPROBE" explain - <"$workdir/big" >"$workdir/out" 2>"$workdir/err" || rc=$?
    [ "$rc" = 2 ] || fail "exit $rc for 1 MiB + 1 byte on stdin"
    grep -q 'standard input is over 1048576 bytes' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  explain_without_text_is_usage_error)
    run 2 explain
    ;;
  explain_revision_needs_kubeconfig)
    run 2 explain 'no healthy upstream' --revision 1-22
    ;;
  explain_kubeconfig_that_cannot_be_loaded_is_usage_error)
    run 2 explain 'no healthy upstream' --kubeconfig "$workdir/missing-kubeconfig"
    grep -q 'meshprobe explain: ' "$workdir/err" || fail "no message: $(cat "$workdir/err")"
    ;;
  *)
    echo "unknown case: $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
