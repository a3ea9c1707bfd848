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

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
# shellcheck source=../lib/kubeconfig.sh
source "$(dirname "$0")/../lib/kubeconfig.sh"
make_workdir
fail_context() { show_log "$workdir/agent.log" 20 "agent log"; }

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

# With a web config: SCHEME=https and CURL_ARGS (--cacert, -u) for the
# helpers' requests.
SCHEME=http
CURL_ARGS=()

start_agent() {
  # Emptied here, not by the background job's redirection: that one may come
  # after the wait below has read a previous agent's start line.
  : >"$workdir/agent.log"
  "$MESHPROBE" agent --config "$workdir/config.yaml" "$@" >>"$workdir/agent.log" 2>&1 &
  agent_pid=$!
  eventually 5 grep -q agent_started "$workdir/agent.log" || fail "agent did not start"
  URL="$SCHEME://$(started_listen)"
  eventually 5 curl -sf "${CURL_ARGS[@]}" "$URL/healthz" || fail "agent did not come up at $URL"
}

stop_agent() {
  kill -TERM "$agent_pid"
  wait "$agent_pid" || fail "agent exit $?"
  agent_pid=""
}

status() { curl -sf "${CURL_ARGS[@]}" "$URL/status"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# The endpoint's web config: a bcrypt hash of PASSWORD (cost 4, made with
# libxcrypt's crypt_rn), and TLS with the test PKI's leaf for 127.0.0.1.
PASSWORD=s3cret-pass
# shellcheck disable=SC2016  # a bcrypt hash, not an expansion
HASH='$2y$04$abcdefghijklmnopqrstuuaUNpTaGyHErb7YklXKRt/SEtSLxPST6'
write_web_config() {  # write_web_config FILE [CERT KEY]
  cat >"$1" <<YAML
basic_auth_users:
  prometheus: '$HASH'
tls_server_config:
  cert_file: ${2:-$workdir/tls/leaf.pem}
  key_file: ${3:-$workdir/tls/leaf-key.pem}
YAML
}
use_tls() {  # the helpers' curl trusts the endpoint's CA and logs in
  SCHEME=https
  CURL_ARGS=(--cacert "$workdir/tls/ca.pem" -u "prometheus:$PASSWORD")
}

# Fails when any of SECRETS occurs in any of FILES; says which, by label.
# SECRETS holds "label=value" words.
assert_no_secrets() {
  local file entry
  for file in "$@"; do
    [ -f "$file" ] || fail "no output file $file"
    for entry in "${SECRETS[@]}"; do
      if grep -qF -- "${entry#*=}" "$file"; then
        fail "$(basename "$file") shows the ${entry%%=*}"
      fi
    done
  done
}
diagnosis_of() { status | jq -r --arg t "$1" '.targets[] | select(.name == $t) | .addresses[0].diagnosis'; }
has_diagnosis() { [ "$(diagnosis_of "$1")" = "$2" ]; }

"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
"$TESTPEER" pki "$workdir/tls" --san 127.0.0.1 >/dev/null  # the endpoint's own

# ---- Kubernetes mode, for the secrets case ---------------------------------------
start_apiserver() {  # start_apiserver TOKEN: an API server holding istio's root ConfigMap
  "$TESTPEER" pki "$workdir/api" --san 127.0.0.1 >/dev/null
  jq -n --arg token "$1" --arg root "$(cat "$workdir/pki/ca.pem")" \
    '{token: $token, configmaps: [{metadata: {name: "istio-ca-root-cert", namespace: "istio-system"},
                                   data: {"root-cert.pem": $root}}]}' >"$workdir/state.json"
  start_fake_apiserver --log "$workdir/requests.log"
}
write_kubeconfig() {  # write_kubeconfig FILE SERVER TOKEN: a token and a client key
  write_token_kubeconfig "$1" "$2" "$workdir/api/ca.pem" "$3" "$workdir/client.pem" "$workdir/client-key.pem"
}

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
  post_reload_applies_a_config_when_the_lifecycle_api_is_on)
    write_config "$workdir/config.yaml" ""
    start_agent --web.enable-lifecycle
    write_config "$workdir/config.yaml" "  - name: added
    url: tcp://127.0.0.1:$REFUSED_PORT"
    code=$(curl -s -o "$workdir/reply" -w '%{http_code}' -X POST "$URL/-/reload")
    [ "$code" = 200 ] || fail "POST /-/reload: $code $(cat "$workdir/reply")"
    grep -q 'event=config_reloaded reason=/-/reload' "$workdir/agent.log" || fail "no reload by /-/reload logged"
    eventually 5 has_diagnosis added tcp_refused || fail "status: $(status)"
    echo "targets: [{url: ftp://nope}]" >"$workdir/config.yaml"
    code=$(curl -s -o "$workdir/reply" -w '%{http_code}' -X POST "$URL/-/reload")
    [ "$code" = 500 ] || fail "POST /-/reload of a bad config: $code"
    grep -q 'config.yaml:1' "$workdir/reply" || fail "no FILE:LINE in the answer: $(cat "$workdir/reply")"
    has_diagnosis added tcp_refused || fail "old targets gone: $(status)"
    [ "$(http_code "$URL/-/reload")" = 405 ] || fail "GET /-/reload was not refused"
    ;;
  post_reload_is_forbidden_without_the_lifecycle_flag)
    write_config "$workdir/config.yaml" ""
    start_agent
    [ "$(http_code -X POST "$URL/-/reload")" = 403 ] || fail "POST /-/reload without --web.enable-lifecycle was not 403"
    grep -q 'event=config_reloaded' "$workdir/agent.log" && fail "reloaded without the lifecycle API"
    [ "$(http_code "$URL/-/healthy")" = 200 ] || fail "/-/healthy"
    eventually 5 curl -sf "$URL/-/ready" || fail "/-/ready never ready"
    ;;
  post_reload_needs_credentials_like_every_path)
    write_web_config "$workdir/web.yml"
    use_tls
    write_config "$workdir/config.yaml" ""
    start_agent --web.enable-lifecycle --web.config.file "$workdir/web.yml"
    [ "$(http_code --cacert "$workdir/tls/ca.pem" -X POST "$URL/-/reload")" = 401 ] || fail "POST /-/reload without credentials was not 401"
    [ "$(http_code "${CURL_ARGS[@]}" -X POST "$URL/-/reload")" = 200 ] || fail "POST /-/reload with credentials failed"
    [ "$(http_code --cacert "$workdir/tls/ca.pem" "$URL/-/healthy")" = 200 ] || fail "/-/healthy needs no credentials, as /healthz"
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
  web_config_serves_tls_and_basic_auth)
    write_web_config "$workdir/web.yml"
    write_config "$workdir/config.yaml" ""
    use_tls
    start_agent --web.config.file "$workdir/web.yml"
    grep -q 'event=agent_started .*tls=on auth="basic (1 user)"' "$workdir/agent.log" \
      || fail "start line: $(head -1 "$workdir/agent.log")"
    ca=(--cacert "$workdir/tls/ca.pem")
    for path in /metrics /status / /nope; do
      code=$(http_code "${ca[@]}" "$URL$path")
      [ "$code" = 401 ] || fail "$path without credentials answered $code"
      code=$(http_code "${ca[@]}" -u "prometheus:wrong" "$URL$path")
      [ "$code" = 401 ] || fail "$path with a wrong password answered $code"
    done
    curl -s -D - -o /dev/null "${ca[@]}" "$URL/metrics" | tr -d '\r' \
      | grep -c '^WWW-Authenticate: Basic realm="meshprobe", charset="UTF-8"$' >/dev/null || fail "no Basic challenge"
    eventually 5 has_diagnosis refused tcp_refused || fail "status: $(status)"
    curl -sf "${CURL_ARGS[@]}" "$URL/metrics" | grep -c '^probe_success{.*target="refused"' >/dev/null \
      || fail "no metrics"
    curl -sf "${CURL_ARGS[@]}" "$URL/" | grep -ci '<html' >/dev/null || fail "no status page"
    # The kubelet's probes need no credentials (they carry none), only TLS.
    curl -sf "${ca[@]}" "$URL/healthz" >/dev/null || fail "healthz asked for credentials"
    eventually 5 curl -sf "${ca[@]}" "$URL/readyz" || fail "readyz asked for credentials"
    # The endpoint's certificate is checked; plain HTTP is told to use https.
    rc=0; curl -sf "$URL/healthz" >/dev/null 2>&1 || rc=$?
    [ "$rc" = 60 ] || fail "curl without the CA: exit $rc, expected 60 (untrusted certificate)"
    plain="http://${URL#https://}"
    code=$(http_code "$plain/metrics")
    [ "$code" = 400 ] || fail "plain HTTP to the TLS port answered $code"
    curl -s "$plain/metrics" | grep -c 'use https://' >/dev/null || fail "the 400 does not say to use https"
    ;;
  web_config_file_in_the_agent_config)
    mkdir "$workdir/etc"
    write_web_config "$workdir/etc/web.yml"
    write_config "$workdir/etc/config.yaml" ""
    printf 'web_config_file: web.yml\n' >>"$workdir/etc/config.yaml"   # relative to the config
    "$MESHPROBE" validate "$workdir/etc/config.yaml" >/dev/null || fail "validate refused it"
    use_tls
    "$MESHPROBE" agent --config "$workdir/etc/config.yaml" >"$workdir/agent.log" 2>&1 &
    agent_pid=$!
    eventually 5 grep -q agent_started "$workdir/agent.log" || fail "agent did not start"
    URL="https://$(started_listen)"
    eventually 5 curl -sf "${CURL_ARGS[@]}" "$URL/status" || fail "no TLS status at $URL"
    code=$(http_code --cacert "$workdir/tls/ca.pem" "$URL/status")
    [ "$code" = 401 ] || fail "status without credentials answered $code"
    ;;
  bad_web_config_names_file_and_line)
    write_config "$workdir/config.yaml" ""
    write_web_config "$workdir/web.yml"
    printf '  cipher_suite: [TLS_AES_128_GCM_SHA256]\n' >>"$workdir/web.yml"   # line 6, a typo
    rc=0
    "$MESHPROBE" agent --config "$workdir/config.yaml" --web.config.file "$workdir/web.yml" 2>"$workdir/err" || rc=$?
    [ "$rc" = 2 ] || fail "exit $rc"
    grep -q "web.yml:6: unknown key .*cipher_suite.* in .*tls_server_config" "$workdir/err" \
      || fail "stderr: $(cat "$workdir/err")"
    # validate reads the agent config's web config too; a bad hash is
    # refused without being shown.
    printf 'web_config_file: web.yml\n' >>"$workdir/config.yaml"
    printf "basic_auth_users:\n  alice: '{SHA}not-a-bcrypt-HASHSECRET'\n" >"$workdir/web.yml"
    rc=0
    "$MESHPROBE" validate "$workdir/config.yaml" 2>"$workdir/err" || rc=$?
    [ "$rc" = 2 ] || fail "validate exit $rc"
    grep -q "^$workdir/web.yml:2: .*\"alice\" is not a bcrypt hash" "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ! grep -q HASHSECRET "$workdir/err" || fail "the error shows the hash"
    ;;
  web_config_and_certificates_reload_without_restart)
    cp "$workdir/tls/leaf.pem" "$workdir/server.pem"
    cp "$workdir/tls/leaf-key.pem" "$workdir/server-key.pem"
    write_web_config "$workdir/web.yml" "$workdir/server.pem" "$workdir/server-key.pem"
    write_config "$workdir/config.yaml" ""
    use_tls
    start_agent --web.config.file "$workdir/web.yml"
    # A rotated certificate and key (as cert-manager swaps a Secret's files):
    # new connections get it, checked against the new CA.
    "$TESTPEER" pki "$workdir/tls2" --san 127.0.0.1 >/dev/null
    cp "$workdir/tls2/leaf-key.pem" "$workdir/server-key.pem.new"
    cp "$workdir/tls2/leaf.pem" "$workdir/server.pem.new"
    mv "$workdir/server-key.pem.new" "$workdir/server-key.pem"
    mv "$workdir/server.pem.new" "$workdir/server.pem"
    new_ca=(--cacert "$workdir/tls2/ca.pem" -u "prometheus:$PASSWORD")
    eventually 8 curl -sf "${new_ca[@]}" "$URL/status" || fail "rotated certificate not served: $(tail -3 "$workdir/agent.log")"
    grep -q 'event=config_reloaded reason="TLS file changed"' "$workdir/agent.log" || fail "no reload logged"
    # SIGHUP re-reads the users: the old password stops working.
    sed -i "s/^  prometheus: .*/  scraper: '\$2b\$04\$zyxwvutsrqponmlkjihgfeLoHyiKPnG.ZCs1lGAv6n9qcHladX3QC'/" "$workdir/web.yml"
    kill -HUP "$agent_pid"
    other_pass() { [ "$(http_code --cacert "$workdir/tls2/ca.pem" -u scraper:other-pass "$URL/status")" = 200 ]; }
    eventually 5 other_pass || fail "new user not accepted"
    code=$(http_code "${new_ca[@]}" "$URL/status")
    [ "$code" = 401 ] || fail "removed user answered $code"
    # A broken web config is refused; the last good one keeps serving.
    printf 'basic_auth_users: [oops]\n' >"$workdir/web.yml"
    kill -HUP "$agent_pid"
    eventually 5 grep -q 'event=config_rejected reason=SIGHUP.*web.yml:1' "$workdir/agent.log" || fail "bad web config not rejected"
    other_pass || fail "the last good web config is gone"
    ;;
  basic_auth_without_tls_is_served_and_warned)
    printf "basic_auth_users:\n  prometheus: '%s'\n" "$HASH" >"$workdir/web.yml"
    write_config "$workdir/config.yaml" ""
    CURL_ARGS=(-u "prometheus:$PASSWORD")
    start_agent --web.config.file "$workdir/web.yml"
    grep -q 'event=basic_auth_without_tls' "$workdir/agent.log" || fail "no warning: $(cat "$workdir/agent.log")"
    [ "$(http_code "$URL/status")" = 401 ] || fail "no credentials, no 401"
    status >/dev/null || fail "credentials refused"
    ;;
  secrets_never_appear_in_outputs_or_logs)
    command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (.ci/install-deps installs it)"; exit 77; }
    TOKEN="meshprobe-e2e-token-$RANDOM$RANDOM-do-not-print"
    WRONG_TOKEN="meshprobe-e2e-wrong-token-$RANDOM$RANDOM"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=meshprobe" \
      -keyout "$workdir/client-key.pem" -out "$workdir/client.pem" 2>/dev/null
    start_apiserver "$TOKEN"
    # Every secret, and telling pieces of each: the token, the kubeconfig's
    # client key (base64 and PEM), the endpoint's TLS key, the bcrypt hash
    # and the password it stands for.
    key_b64=$(base64 -w0 <"$workdir/client-key.pem")
    SECRETS=("token=$TOKEN" "wrong token=$WRONG_TOKEN"
             "client-key-data=${key_b64:20:40}" "client key=$(sed -n 2p "$workdir/client-key.pem")"
             "TLS key=$(sed -n 2p "$workdir/tls/leaf-key.pem")" "private key=PRIVATE KEY"
             "bcrypt hash=${HASH:7}" "password=$PASSWORD")
    write_kubeconfig "$workdir/kubeconfig.yaml" "https://127.0.0.1:$API_PORT" "$TOKEN"
    port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    write_web_config "$workdir/web.yml"
    write_config "$workdir/config.yaml" "  - name: webhook
    url: https://127.0.0.1:$port/ready
    ca: mesh-root
    server_name: istiod.istio-system.svc"
    cat >>"$workdir/config.yaml" <<YAML
web_config_file: web.yml
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 1s, hygiene: true}
ca_bundles:
  mesh-root: {configmap: istio-system/istio-ca-root-cert, key: root-cert.pem}
YAML
    use_tls
    outputs=()
    for format in logfmt json; do
      sed -i '/^log:/d' "$workdir/config.yaml"
      printf 'log: {format: %s}\n' "$format" >>"$workdir/config.yaml"
      start_agent
      eventually 10 has_diagnosis webhook ok || fail "status: $(status)"
      status >"$workdir/status-$format.json"
      curl -sf "${CURL_ARGS[@]}" "$URL/" >"$workdir/page-$format.html"
      curl -sf "${CURL_ARGS[@]}" "$URL/metrics" >"$workdir/metrics-$format.txt"
      curl -s --cacert "$workdir/tls/ca.pem" -u "prometheus:wrong" -D - "$URL/status" >"$workdir/refused-$format.txt"
      # The API server starts refusing the token: the errors are logged and
      # shown, the token is not. Open watches outlive the token until they
      # end: the streams are dropped, and the new ones are refused.
      jq '.token = "rotated-away" | .drop_watches = true' "$workdir/state.json" >"$workdir/state.tmp" && mv "$workdir/state.tmp" "$workdir/state.json"
      eventually 10 grep -q 401 "$workdir/agent.log" || fail "the 401 was not logged"
      status >"$workdir/status-401-$format.json"
      kill -HUP "$agent_pid"   # a reload reads the web config and kubeconfig again
      eventually 5 grep -q config_reloaded "$workdir/agent.log" || fail "no reload"
      stop_agent
      cp "$workdir/agent.log" "$workdir/agent-$format.log"
      jq '.token = "'"$TOKEN"'" | del(.drop_watches)' "$workdir/state.json" >"$workdir/state.tmp" && mv "$workdir/state.tmp" "$workdir/state.json"
      outputs+=("$workdir/status-$format.json" "$workdir/page-$format.html" "$workdir/metrics-$format.txt"
                "$workdir/refused-$format.txt" "$workdir/status-401-$format.json" "$workdir/agent-$format.log")
    done
    grep -q 'unauthorized\|401' "$workdir/status-401-json.json" || fail "the 401 is not in /status"
    # check, in both formats, with the good token, a wrong one, and an API
    # server that cannot be reached.
    "$MESHPROBE" check --config "$workdir/config.yaml" --output json >"$workdir/check.json" 2>"$workdir/check.err" || true
    jq -e '.results[] | select(.name == "webhook") | .diagnosis == "ok"' "$workdir/check.json" >/dev/null \
      || fail "check: $(head -c 2000 "$workdir/check.json")"
    "$MESHPROBE" check --kubeconfig "$workdir/kubeconfig.yaml" --color never >"$workdir/check.txt" 2>"$workdir/check-table.err" || true
    write_kubeconfig "$workdir/kubeconfig.yaml" "https://127.0.0.1:$API_PORT" "$WRONG_TOKEN"
    rc=0
    "$MESHPROBE" check --config "$workdir/config.yaml" --output json >"$workdir/check-401.json" 2>"$workdir/check-401.err" || rc=$?
    [ "$rc" = 1 ] || fail "check with a wrong token: exit $rc"
    grep -q '401' "$workdir/check-401.json" || fail "the 401 is not reported: $(head -c 2000 "$workdir/check-401.json")"
    write_kubeconfig "$workdir/kubeconfig.yaml" "https://127.0.0.1:$REFUSED_PORT" "$TOKEN"
    rc=0
    "$MESHPROBE" check --config "$workdir/config.yaml" --output json >"$workdir/check-down.json" 2>"$workdir/check-down.err" || rc=$?
    [ "$rc" != 0 ] || fail "check with the API server down passed"
    "$MESHPROBE" check --kubeconfig "$workdir/kubeconfig.yaml" --color never >"$workdir/check-down.txt" 2>&1 || true
    start_agent
    eventually 10 grep -q "127.0.0.1:$REFUSED_PORT" "$workdir/agent.log" || fail "the unreachable API server was not logged"
    status >"$workdir/status-down.json"
    stop_agent
    outputs+=("$workdir/check.json" "$workdir/check.err" "$workdir/check.txt" "$workdir/check-table.err"
              "$workdir/check-401.json" "$workdir/check-401.err" "$workdir/check-down.json"
              "$workdir/check-down.err" "$workdir/check-down.txt" "$workdir/agent.log" "$workdir/status-down.json")
    # The check itself finds secrets where they are.
    if (assert_no_secrets "$workdir/kubeconfig.yaml" "$workdir/web.yml") >/dev/null; then
      fail "assert_no_secrets finds nothing even in the kubeconfig"
    fi
    assert_no_secrets "${outputs[@]}"
    ;;
  *)
    echo "unknown case: $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
