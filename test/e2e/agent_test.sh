#!/usr/bin/env bash
# `meshprobe agent` and `meshprobe validate` as operators run them: the
# endpoint over real loopback HTTP, reloads (SIGHUP, a changed file, a changed
# CA bundle, a bad config), clean shutdown, logs, promtool, and a real
# Prometheus server scraping the agent.
#
#   agent_test.sh MESHPROBE TESTPEER CASE
set -euo pipefail

MESHPROBE=$1
TESTPEER=$2
CASE=$3

workdir=$(mktemp -d)
agent_pid=""
cleanup() {
  kill_tracked
  if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT

fail() {
  echo "FAIL [$CASE]: $*"
  [ -f "$workdir/agent.log" ] && { echo "--- agent log"; tail -20 "$workdir/agent.log"; }
  exit 1
}

# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"

# The agent binds port 0 and says in its start line which port it got: no
# race with other processes for a port picked in advance.
URL=""
REFUSED_PORT=$(free_port)

write_config() {  # write_config FILE EXTRA_TARGETS_YAML
  cat >"$1" <<YAML
listen: 127.0.0.1:0
vantage: test
node_name: test-node
defaults: {interval: 200ms, timeout: 150ms}
targets:
  - name: refused
    url: tcp://127.0.0.1:$REFUSED_PORT
$2
YAML
}

# The address from the agent's start line, logfmt or JSON.
started_listen() {
  sed -n 's/.*event=agent_started.* listen=\([^ ]*\).*/\1/p; s/.*"event":"agent_started".*"listen":"\([^"]*\)".*/\1/p' \
    "$workdir/agent.log" | head -1
}

start_agent() {
  "$MESHPROBE" agent --config "$workdir/config.yaml" "$@" >"$workdir/agent.log" 2>&1 &
  agent_pid=$!
  eventually 5 grep -q agent_started "$workdir/agent.log" || fail "agent did not start"
  URL="http://$(started_listen)"
  eventually 5 curl -sf "$URL/healthz" || fail "agent did not come up at $URL"
}

status() { curl -sf "$URL/status"; }
diagnosis_of() { status | jq -r --arg t "$1" '.targets[] | select(.name == $t) | .addresses[0].diagnosis'; }
has_diagnosis() { [ "$(diagnosis_of "$1")" = "$2" ]; }

"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null

case "$CASE" in
  validate_accepts_a_good_config)
    write_config "$workdir/config.yaml" ""
    "$MESHPROBE" validate "$workdir/config.yaml" || fail "validate refused a good config"
    ;;
  validate_names_file_and_line_of_a_bad_config)
    write_config "$workdir/config.yaml" "    intervall: 5s"
    rc=0
    "$MESHPROBE" validate "$workdir/config.yaml" 2>"$workdir/err" || rc=$?
    [ "$rc" = 2 ] || fail "exit $rc"
    grep -q "^$workdir/config.yaml:8: .*intervall" "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  agent_refuses_a_bad_config_at_start)
    write_config "$workdir/config.yaml" "    timeout: soon"
    rc=0
    "$MESHPROBE" agent --config "$workdir/config.yaml" 2>"$workdir/err" || rc=$?
    [ "$rc" = 2 ] || fail "exit $rc"
    grep -q "config.yaml:8" "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  agent_serves_status_metrics_page_and_probes)
    write_config "$workdir/config.yaml" ""
    start_agent
    eventually 5 has_diagnosis refused tcp_refused || fail "status: $(status)"
    status | jq -e '.vantage == "test" and .node == "test-node" and .ready == true' >/dev/null \
      || fail "status: $(status)"
    curl -sf "$URL/metrics" | grep -c "^probe_success{.*target=\"refused\"" >/dev/null || fail "no probe_success"
    curl -sf "$URL/" | grep -c "tcp_refused" >/dev/null || fail "status page lacks the diagnosis"
    curl -sf "$URL/healthz" >/dev/null || fail "healthz"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")
    [ "$code" = 404 ] || fail "unknown path answered $code"
    ;;
  readyz_waits_for_the_first_round)
    port=$(serve --mode tcp_silent)
    write_config "$workdir/config.yaml" "  - name: slow
    url: tls://127.0.0.1:$port
    interval: 3s
    timeout: 2s"
    start_agent
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")
    [ "$code" = 503 ] || fail "readyz before the first round: $code"
    eventually 6 curl -sf "$URL/readyz" || fail "never ready"
    ;;
  metrics_pass_promtool)
    command -v promtool >/dev/null || { echo "SKIP: promtool not installed (.ci/install-deps installs it)"; exit 77; }
    port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    cat >>"$workdir/extra" <<YAML
  - name: webhook
    url: https://127.0.0.1:$port/ready
    ca: mesh
    server_name: istiod.istio-system.svc
YAML
    write_config "$workdir/config.yaml" "$(cat "$workdir/extra")"
    printf 'ca_bundles:\n  mesh: {file: %s}\n' "$workdir/pki/ca.pem" >>"$workdir/config.yaml"
    start_agent
    eventually 5 has_diagnosis webhook ok || fail "status: $(status)"
    curl -sf "$URL/metrics" >"$workdir/metrics.txt"
    promtool check metrics <"$workdir/metrics.txt" >"$workdir/promtool.txt" 2>&1 \
      || fail "promtool: $(cat "$workdir/promtool.txt")"
    [ ! -s "$workdir/promtool.txt" ] || fail "promtool: $(cat "$workdir/promtool.txt")"
    grep -q '^probe_ssl_earliest_cert_expiry{' "$workdir/metrics.txt" || fail "no cert expiry series"
    ;;
  prometheus_scrapes_probe_success)
    command -v prometheus >/dev/null || { echo "SKIP: prometheus not installed (.ci/install-deps installs it)"; exit 77; }
    write_config "$workdir/config.yaml" ""
    start_agent
    prom_port=$(free_port)
    cat >"$workdir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: meshprobe
    static_configs: [{targets: ["${URL#http://}"]}]
YAML
    prometheus --config.file="$workdir/prometheus.yml" --storage.tsdb.path="$workdir/tsdb" \
      --web.listen-address="127.0.0.1:$prom_port" >"$workdir/prometheus.log" 2>&1 &
    track_pid $!
    query() {
      curl -sf "http://127.0.0.1:$prom_port/api/v1/query" \
        --data-urlencode 'query=probe_success{job="meshprobe",target="refused",vantage="test"}' \
        | jq -e '.data.result[0].value[1] == "0"'
    }
    eventually 30 query || fail "Prometheus never saw probe_success: $(tail -5 "$workdir/prometheus.log")"
    ;;
  sighup_reloads_a_good_config)
    write_config "$workdir/config.yaml" ""
    start_agent
    write_config "$workdir/config.yaml" "  - name: added
    url: tcp://127.0.0.1:$REFUSED_PORT"
    kill -HUP "$agent_pid"
    eventually 5 has_diagnosis added tcp_refused || fail "status: $(status)"
    grep -q 'event=config_reloaded' "$workdir/agent.log" || fail "no reload logged"
    ;;
  bad_reload_keeps_the_last_good_config)
    write_config "$workdir/config.yaml" ""
    start_agent
    eventually 5 has_diagnosis refused tcp_refused || fail "status: $(status)"
    echo "targets: [{url: ftp://nope}]" >"$workdir/config.yaml"
    kill -HUP "$agent_pid"
    eventually 5 grep -q 'event=config_rejected' "$workdir/agent.log" || fail "rejection not logged"
    grep 'event=config_rejected' "$workdir/agent.log" | grep -c 'config.yaml:1' >/dev/null || fail "no FILE:LINE in the log"
    curl -sf "$URL/metrics" >"$workdir/metrics.txt"
    grep -q 'meshprobe_config_reloads_total{result="failure"} 1' "$workdir/metrics.txt" \
      || fail "failed reload not counted: $(grep reload "$workdir/metrics.txt")"
    has_diagnosis refused tcp_refused || fail "old targets gone: $(status)"
    kill -0 "$agent_pid" || fail "agent died"
    ;;
  a_changed_config_file_is_reloaded)
    write_config "$workdir/config.yaml" ""
    start_agent
    sleep 0.2
    write_config "$workdir/config.yaml" "  - name: added
    url: tcp://127.0.0.1:$REFUSED_PORT"
    eventually 8 has_diagnosis added tcp_refused || fail "file change not picked up: $(status)"
    ;;
  a_changed_ca_bundle_is_reread)
    port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    cp "$workdir/pki/ca.pem" "$workdir/bundle.pem"
    write_config "$workdir/config.yaml" "  - name: webhook
    url: https://127.0.0.1:$port/ready
    ca: mesh
    server_name: istiod.istio-system.svc"
    printf 'ca_bundles:\n  mesh: {file: %s}\n' "$workdir/bundle.pem" >>"$workdir/config.yaml"
    start_agent
    eventually 5 has_diagnosis webhook ok || fail "status: $(status)"
    cp "$workdir/pki/other-ca.pem" "$workdir/bundle.pem.new" && mv "$workdir/bundle.pem.new" "$workdir/bundle.pem"
    eventually 8 has_diagnosis webhook tls_unknown_authority || fail "bundle change not picked up: $(status)"
    ;;
  sigterm_stops_cleanly_with_probes_in_flight)
    port=$(serve --mode tcp_silent)
    write_config "$workdir/config.yaml" "  - name: slow
    url: tls://127.0.0.1:$port
    interval: 10s
    timeout: 9s"
    start_agent
    sleep 1  # the slow probe's first round is now in flight (or due)
    start=$(date +%s%N)
    kill -TERM "$agent_pid"
    rc=0
    wait "$agent_pid" || rc=$?
    agent_pid=""
    took=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$rc" = 0 ] || fail "exit $rc"
    [ "$took" -lt 1000 ] || fail "took ${took} ms to stop"
    grep -q 'event=agent_stopped' "$workdir/agent.log" || fail "no stop logged"
    ;;
  successful_probes_do_not_log)
    port=$(serve --mode tcp_silent)
    write_config "$workdir/config.yaml" "  - name: fine
    url: tcp://127.0.0.1:$port"
    start_agent
    sleep 2  # about ten rounds of each target
    lines=$(wc -l <"$workdir/agent.log")
    [ "$lines" -le 3 ] || fail "$lines log lines for 2 s of steady state"
    grep -q 'event=probe_failing target=refused' "$workdir/agent.log" || fail "failing target not logged once"
    [ "$(grep -c 'event=probe_failing' "$workdir/agent.log")" = 1 ] || fail "failure logged more than once"
    ;;
  json_logs_are_one_object_per_line)
    write_config "$workdir/config.yaml" ""
    printf 'log: {format: json}\n' >>"$workdir/config.yaml"
    start_agent
    sleep 0.5
    jq -e -s 'length >= 2 and all(.[]; has("ts") and has("level") and has("event"))' \
      "$workdir/agent.log" >/dev/null || fail "log: $(cat "$workdir/agent.log")"
    ;;
  listen_flag_overrides_the_config)
    write_config "$workdir/config.yaml" ""
    sed -i 's/^listen: .*/listen: 192.0.2.1:9/' "$workdir/config.yaml"  # not bindable here
    start_agent --listen 127.0.0.1:0
    case "$URL" in http://127.0.0.1:*) ;; *) fail "serving on $URL, not on --listen" ;; esac
    ;;
  *)
    echo "unknown case: $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
