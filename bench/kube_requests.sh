#!/usr/bin/env bash
# What one agent in Kubernetes mode costs the API server: the DaemonSet's
# Kubernetes-mode config (components/kubernetes-mode: the injector's
# caBundle, the mesh root ConfigMap, istiod's endpoints; hygiene off) runs
# against the emulated API server (test/integration/kube/fake_apiserver.py:
# the real paths, chunked watch streams, bookmarks) for BENCH_KUBE_SECONDS.
# An endpoint is added at a third of the run and the caBundle swapped for
# another CA's at two thirds; both must show in /status within 2 s. The
# emulator's request log is then counted: the lists at start, and every
# request after (re-opened watches, lists, anything else).
#
#   bench/kube_requests.sh [BUILD_DIR]
#
# Environment: BENCH_KUBE_SECONDS (600: the issue's 10 minutes; a watch's
# timeoutSeconds is 5-10 minutes, so shorter runs see fewer re-opened
# watches). Only loopback is used.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MESHPROBE=$BUILD/agent/meshprobe
TESTPEER=$BUILD/test/support/meshprobe-testpeer
for bin in "$MESHPROBE" "$TESTPEER"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (cmake --build $BUILD)"; exit 2; }
done
RUN_SECONDS=${BENCH_KUBE_SECONDS:-600}
CASE=kube_requests
# shellcheck source=test/lib/common.sh
source test/lib/common.sh
# shellcheck source=test/lib/peers.sh
source test/lib/peers.sh
# shellcheck source=test/lib/kubeconfig.sh
source test/lib/kubeconfig.sh
make_workdir
fail_context() {
  show_log "$workdir/agent.log" 10 "agent log"
  show_log "$workdir/apiserver.err" 10 emulator
}

"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
"$TESTPEER" pki "$workdir/other" --san istiod.istio-system.svc >/dev/null
"$TESTPEER" pki "$workdir/api" --san 127.0.0.1 >/dev/null
ISTIOD_PORT=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
TOKEN=bench-token

write_state() {  # write_state CA_PEM ADDRESSES_JSON
  jq -n --arg token "$TOKEN" --arg ca "$(base64 -w0 <"$1")" --arg root "$(cat "$workdir/pki/ca.pem")" \
        --argjson port "$ISTIOD_PORT" --argjson addresses "$2" '
  {token: $token, bookmark_interval: 60,
   mutatingwebhookconfigurations: [{metadata: {name: "istio-sidecar-injector"},
     webhooks: [{name: "namespace.sidecar-injector.istio.io",
                 clientConfig: {service: {namespace: "istio-system", name: "istiod", port: 443}, caBundle: $ca}}]}],
   configmaps: [{metadata: {name: "istio-ca-root-cert", namespace: "istio-system"}, data: {"root-cert.pem": $root}}],
   services: [{metadata: {name: "istiod", namespace: "istio-system"},
               spec: {clusterIP: "10.96.0.15", ports: [{name: "https-webhook", port: 443, targetPort: $port},
                                                       {name: "grpc-xds", port: 15012, targetPort: 15012}]}}],
   endpointslices: [{metadata: {name: "istiod-x7k2p", namespace: "istio-system",
                                labels: {"kubernetes.io/service-name": "istiod"}},
                     addressType: "IPv4",
                     endpoints: [$addresses[] | {addresses: [.], conditions: {ready: true}}],
                     ports: [{name: "https-webhook", port: $port}, {name: "grpc-xds", port: 15012}]}]}' \
    >"$workdir/state.tmp"
  mv "$workdir/state.tmp" "$workdir/state.json"
}
write_state "$workdir/pki/ca.pem" '["127.0.0.1"]'
start_fake_apiserver --log "$workdir/requests.log"
write_token_kubeconfig "$workdir/kubeconfig.yaml" "https://127.0.0.1:$API_PORT" "$workdir/api/ca.pem" "$TOKEN"

AGENT_PORT=$(free_port)
# components/kubernetes-mode/config.yaml, with a kubeconfig and loopback.
cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: node
node_name: bench-node
defaults: {interval: 10s, timeout: 3s}
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 60s, hygiene: false}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
  mesh-root: {configmap: istio-system/istio-ca-root-cert}
targets:
  - {name: istiod-webhook-pods, url: "https://istiod.istio-system.svc:443/ready", discover: endpoints, ca: injector}
  - {name: istiod-xds-pods, url: "grpc://istiod.istio-system.svc:15012", discover: endpoints, ca: mesh-root, interval: 30s}
YAML
"$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
agent_pid=$!
status() { curl -sf "http://127.0.0.1:$AGENT_PORT/status"; }
diagnosis_of() {  # diagnosis_of ADDRESS: istiod-webhook-pods' diagnosis there
  status | jq -r --arg a "$1" '.targets[] | select(.name == "istiod-webhook-pods")
                               | .addresses[] | select(.address == $a) | .diagnosis'
}
webhook_ok() { [ "$(diagnosis_of 127.0.0.1)" = ok ]; }
eventually 20 webhook_ok || fail "the agent did not start probing: $(status)"
started=$(date +%s.%N)
sleep 3  # the start's lists and watches are in the log
startup=$(wc -l <"$workdir/requests.log")

# Picked up within 2 s: how long it took, in ms, in $pickup_ms.
picked_up() {  # picked_up WHAT CONDITION...
  local what=$1 t0 t1
  shift
  t0=$(date +%s%N)
  eventually 2 "$@" || fail "$what not picked up within 2 s: $(status | head -c 2000)"
  t1=$(date +%s%N)
  pickup_ms=$(((t1 - t0) / 1000000))
}
sleep "$(awk -v s="$RUN_SECONDS" 'BEGIN { print s / 3 - 3 }')"
write_state "$workdir/pki/ca.pem" '["127.0.0.1", "127.0.0.2"]'
has_second() { [ -n "$(diagnosis_of 127.0.0.2)" ]; }
picked_up "the added endpoint" has_second
endpoint_ms=$pickup_ms
sleep "$(awk -v s="$RUN_SECONDS" 'BEGIN { print s / 3 }')"
write_state "$workdir/other/ca.pem" '["127.0.0.1", "127.0.0.2"]'
untrusted() { [ "$(diagnosis_of 127.0.0.1)" = tls_unknown_authority ]; }
picked_up "the swapped caBundle" untrusted
bundle_ms=$pickup_ms
elapsed_now() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'; }
sleep "$(awk -v s="$RUN_SECONDS" -v e="$(elapsed_now)" 'BEGIN { d = s - e; print (d > 0 ? d : 0) }')"
run=$(elapsed_now)
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "agent exit $?"
agent_pid=""

# The requests after the start, by kind.
after=$(tail -n +"$((startup + 1))" "$workdir/requests.log")
count() { jq -s "$1" <<<"$after"; }
start_lists=$(head -n "$startup" "$workdir/requests.log" | jq -s '[.[] | select(.query.watch != "true")] | length')
start_watches=$(head -n "$startup" "$workdir/requests.log" | jq -s '[.[] | select(.query.watch == "true")] | length')
lists=$(count '[.[] | select(.query.watch != "true")] | length')
rewatches=$(count '[.[] | select(.query.watch == "true")] | length')
per10() { awk -v n="$1" -v s="$run" 'BEGIN { printf "%.2f", n * 600 / s }'; }
printf '%-62s %s\n' "run (s)" "$(printf %.0f "$run")"
printf '%-62s %s\n' "at start: lists, watches opened" "$start_lists, $start_watches"
printf '%-62s %s\n' "after start: requests besides watches (per 10 min)" "$lists ($(per10 "$lists"); target <= 1)"
printf '%-62s %s\n' "after start: watches re-opened (per 10 min)" "$rewatches ($(per10 "$rewatches"))"
printf '%-62s %s\n' "endpoint added -> in /status (ms)" "$endpoint_ms"
printf '%-62s %s\n' "caBundle swapped -> tls_unknown_authority (ms)" "$bundle_ms"
echo "BENCH kube_start_lists=$start_lists"
echo "BENCH kube_open_watches=$start_watches"
echo "BENCH kube_requests_per_10min=$(per10 "$lists")"
echo "BENCH kube_rewatches_per_10min=$(per10 "$rewatches")"
echo "BENCH kube_endpoint_pickup_ms=$endpoint_ms"
echo "BENCH kube_bundle_pickup_ms=$bundle_ms"
