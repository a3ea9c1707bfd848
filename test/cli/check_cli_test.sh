#!/usr/bin/env bash
# `meshprobe check` and `meshprobe version` as a user runs them: exit codes,
# the JSON shape of the README's "meshprobe check" section, the table, usage errors. Real servers on loopback.
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
  *)
    echo "unknown case: $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
