#!/usr/bin/env bash
# The rules and the dashboard against live agents: two agents (vantages node
# and control-plane) probe an istiod stand-in on :15017, the control-plane
# one through a "firewall" (it dials an address nothing answers on), and a
# real Prometheus scrapes both with deploy/prometheus/meshprobe.rules.yaml
# loaded. Runs in a private network namespace (root only; skipped otherwise)
# so the fixed ports of the scenario are free.
#
#   live_test.sh SOURCE_DIR MESHPROBE TESTPEER CASE
set -euo pipefail

SOURCE=$1
MESHPROBE=$2
TESTPEER=$3
CASE=$4

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
require_root "needs root (a private network namespace for the fixed ports)"
if [ -z "${MESHPROBE_LIVE_NS:-}" ]; then
  exec env MESHPROBE_LIVE_NS=1 unshare --net "$0" "$@"
fi
ip link set lo up
command -v prometheus >/dev/null || { echo "FAIL: prometheus not installed (.ci/install-deps)"; exit 1; }

PYTHON=${PYTHON:-python3}
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
make_workdir
fail_context() {
  local log
  for log in "$workdir"/*.log; do show_log "$log" 10; done
}

# istiod's stand-in: the webhook on 127.0.0.1:15017 with istiod's SAN.
"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
start_ready "$workdir/peer.log" "$TESTPEER" serve --listen 127.0.0.1:15017 --mode tls_http \
  --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem"

start_agent() {  # start_agent NAME PORT VANTAGE NODE WEBHOOK_ADDRESS
  cat >"$workdir/$1.yaml" <<YAML
listen: 127.0.0.1:$2
vantage: $3
node_name: $4
defaults: {interval: 1s, timeout: 500ms}
ca_bundles:
  istio-root: {file: $workdir/pki/ca.pem}
targets:
  - name: istiod-webhook
    url: https://$5:15017/ready
    ca: istio-root
    server_name: istiod.istio-system.svc
  # A negative test (nothing listens on 127.0.0.3:15017), so the series of
  # expected-blocked targets are exported too.
  - name: closed-path
    url: tcp://127.0.0.3:15017
    expect: blocked
YAML
  "$MESHPROBE" agent --config "$workdir/$1.yaml" >"$workdir/$1.log" 2>&1 &
  track_pid $!
  eventually 10 curl -sf "http://127.0.0.1:$2/readyz" || fail "agent $1 never ready"
}
# The node reaches istiod; the control plane dials 127.0.0.2:15017, where
# nothing listens: tcp_refused, as behind a rejecting firewall.
start_agent node 9717 node node-1 127.0.0.1
start_agent control-plane 9718 control-plane cp-1 127.0.0.2

cat >"$workdir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [$SOURCE/deploy/prometheus/meshprobe.rules.yaml]
scrape_configs:
  - job_name: meshprobe
    static_configs: [{targets: ["127.0.0.1:9717", "127.0.0.1:9718"]}]
YAML
prometheus --config.file="$workdir/prometheus.yml" --storage.tsdb.path="$workdir/tsdb" \
  --web.listen-address=127.0.0.1:9090 >"$workdir/prometheus.log" 2>&1 &
track_pid $!

query() {  # query PROMQL: prints the result vector as JSON
  curl -sf http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1" | jq -c '.data.result'
}
has_value() {  # has_value PROMQL VALUE: the query's only sample has VALUE
  [ "$(query "$1" | jq -r 'if length == 1 then .[0].value[1] else "none" end')" = "$2" ]
}
eventually 30 has_value 'vantage:meshprobe_agents:count{vantage="node"}' 1 \
  || fail "the recording rules never ran on the agents' series"

case "$CASE" in
  rules_evaluate_on_live_agents)
    # The port cut from real url labels, the fleet ratios, and the firewall
    # alert pending on the control-plane agent's real diagnosis.
    eventually 15 has_value 'vantage_port:meshprobe_nodes_reaching:ratio{vantage="node",port="15017"}' 1 \
      || fail "node ratio: $(query 'vantage_port:meshprobe_nodes_reaching:ratio')"
    eventually 15 has_value 'vantage_port:meshprobe_nodes_reaching:ratio{vantage="control-plane",port="15017"}' 0 \
      || fail "control-plane ratio: $(query 'vantage_port:meshprobe_nodes_reaching:ratio')"
    eventually 15 has_value 'vantage_target_diagnosis:meshprobe_addresses:count{vantage="control-plane",diagnosis="tcp_refused"}' 1 \
      || fail "diagnosis count: $(query 'vantage_target_diagnosis:meshprobe_addresses:count')"
    alert='ALERTS{alertname="MeshprobeWebhookBlockedFromControlPlane",alertstate="pending",vantage="control-plane",target="istiod-webhook",address="127.0.0.2",diagnosis="tcp_refused"}'
    eventually 15 has_value "$alert" 1 || fail "no pending firewall alert: $(query 'ALERTS')"
    # And nothing about the node side.
    [ "$(query 'ALERTS{vantage="node"}')" = "[]" ] || fail "node alerts: $(query 'ALERTS{vantage="node"}')"
    ;;

  dashboard_queries_return_data)
    # Every panel query runs on the live Prometheus, and those that describe
    # this scenario return series. Empty by design here: alerts firing
    # (they are only pending), failures the scenario does not have, and
    # Kubernetes mode (no API server).
    sleep 3  # a few rate() windows
    empty_ok='^"(meshprobe alerts firing|istiod unreachable from many nodes \(failing share\)|istiod unreachable from single nodes|Certificates the CA bundle does not trust|Nodes reaching xDS \(:15012\)|Webhook hygiene findings \(Kubernetes mode\))"$'
    count=0
    while IFS=$'\t' read -r title expr; do
      expr=$(jq -r . <<<"$expr")
      count=$((count + 1))
      response=$(curl -s http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$expr")
      [ "$(jq -r .status <<<"$response")" = success ] || fail "$title: $expr: $response"
      if [ "$(jq '.data.result | length' <<<"$response")" -eq 0 ] && ! grep -Eq "$empty_ok" <<<"$title"; then
        fail "$title: no data for $expr"
      fi
    done < <("$PYTHON" "$SOURCE/test/deploy/check_dashboard.py" "$SOURCE" print-exprs)
    [ "$count" -ge 20 ] || fail "only $count queries"
    echo "$count dashboard queries ran"
    ;;

  rules_and_dashboard_read_only_exported_series)
    # A rename in the agent must not leave alerts that can never fire: every
    # series name the rules and the dashboard read is exported (or recorded).
    curl -sf http://127.0.0.1:9717/metrics >"$workdir/node.metrics"
    curl -sf http://127.0.0.1:9718/metrics >"$workdir/control-plane.metrics"
    "$PYTHON" "$SOURCE/test/deploy/check_dashboard.py" "$SOURCE" names \
      "$workdir/node.metrics" "$workdir/control-plane.metrics" || fail "unknown series names"
    ;;

  *)
    fail "unknown case"
    ;;
esac
echo "ok [$CASE]"
