#!/usr/bin/env bash
# Kubernetes mode end to end: `meshprobe check --kubeconfig` and the agent
# against an emulated Kubernetes API server (fake_apiserver.py: no API server
# runs here, so the real API's paths and JSON shapes are served by it), with
# a real TLS server playing istiod, found through an EndpointSlice and
# verified with the webhook's caBundle.
#
#   kube_e2e_test.sh MESHPROBE TESTPEER CASE
set -euo pipefail

MESHPROBE=$1
TESTPEER=$2
CASE=$3

command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (.ci/install-deps installs it)"; exit 77; }

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
# shellcheck source=../lib/kubeconfig.sh
source "$(dirname "$0")/../lib/kubeconfig.sh"
make_workdir
fail_context() {
  if [ -f "$workdir/out" ]; then echo "--- stdout"; head -c 4000 "$workdir/out"; echo; fi
  show_log "$workdir/err" 20 stderr
  show_log "$workdir/agent.log" 20 "agent log"
  show_log "$workdir/apiserver.err" 20 emulator
}

b64() { base64 -w0 <"$1"; }

# ---- the cluster -------------------------------------------------------------
"$TESTPEER" pki "$workdir/api" --san 127.0.0.1 >/dev/null          # the API server's certificate
"$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null  # istiod's
case "$CASE" in
  admission_*|*canary*)
    # istiod's webhook port as a whole (/inject, /validate, /ready), in Go,
    # for the emulated API server's admission chain to call (with Go's
    # net/http client: $GOPEER webhook-client).
    [ -x "${GOPEER:-}" ] || { echo "SKIP: meshprobe-gopeer was not built (Go is missing): the emulated admission chain calls webhooks with it"; exit 77; }
    "$GOPEER" webhook-serve --listen 127.0.0.1:0 --mode istiod --cert "$workdir/pki/leaf.pem" \
      --key "$workdir/pki/leaf-key.pem" --port-file "$workdir/istiod.port" >"$workdir/istiod.out" 2>&1 &
    track_pid $!
    eventually 5 test -s "$workdir/istiod.port" || fail "webhook-serve did not start: $(cat "$workdir/istiod.out")"
    ISTIOD_PORT=$(sed 's/.*://' "$workdir/istiod.port")
    ;;
  discovery_address_on_the_webhook_port*)
    # Go's net/http on istiod's webhook port: h2 and SETTINGS, then a 404.
    ISTIOD_PORT=$(serve --mode tls_http --also-h2 --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem") ;;
  *) ISTIOD_PORT=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem") ;;
esac
REFUSED_PORT=$(free_port)
TOKEN=meshprobe-test-token
CA_B64=$(b64 "$workdir/pki/ca.pem")
OTHER_CA_B64=$(b64 "$workdir/pki/other-ca.pem")

# The control plane as the webhook verdicts read it: the API server's own
# EndpointSlice (default/kubernetes: its real address and port, 6443 in many
# clusters) and a node whose providerID names the platform (kind's here; a
# case sets gce:// or aws:///).
KUBERNETES_SLICE='{"metadata": {"name": "kubernetes", "namespace": "default",
  "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
  "addressType": "IPv4",
  "endpoints": [{"addresses": ["172.18.0.2"], "conditions": {"ready": true}}],
  "ports": [{"name": "https", "protocol": "TCP", "port": 6443}]}'
NODE='{"metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
  "spec": {"providerID": "kind://docker/kind/node-1"}, "status": {"nodeInfo": {"kubeletVersion": "v1.30.0"}}}'

# Shapes as the API returns them (admissionregistration.k8s.io/v1,
# core/v1, discovery.k8s.io/v1); istiod's Service maps 443 to the pod port.
write_state() {  # write_state [JQ_FILTER]: the base cluster, changed by the filter
  jq -n --arg token "$TOKEN" --arg ca "$CA_B64" --argjson port "$ISTIOD_PORT" \
        --arg root "$(cat "$workdir/pki/ca.pem")" \
        --argjson kubernetes_slice "$KUBERNETES_SLICE" --argjson node "$NODE" '
  def webhook($name; $selector; $path): {
    name: $name, admissionReviewVersions: ["v1beta1", "v1"], sideEffects: "None",
    failurePolicy: "Fail", matchPolicy: "Equivalent", timeoutSeconds: 10,
    clientConfig: {service: {namespace: "istio-system", name: "istiod", path: $path, port: 443}, caBundle: $ca},
    namespaceSelector: $selector,
    rules: [{operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "*"}]};
  {
    token: $token,
    dial_timeout: 1.0,
    mutatingwebhookconfigurations: [{
      metadata: {name: "istio-sidecar-injector", labels: {"istio.io/rev": "default", app: "sidecar-injector"}, resourceVersion: "101"},
      webhooks: [
        webhook("rev.namespace.sidecar-injector.istio.io";
          {matchExpressions: [{key: "istio.io/rev", operator: "In", values: ["default"]}, {key: "istio-injection", operator: "DoesNotExist"}]}; "/inject"),
        webhook("namespace.sidecar-injector.istio.io";
          {matchExpressions: [{key: "istio-injection", operator: "In", values: ["enabled"]}]}; "/inject")]}],
    validatingwebhookconfigurations: [{
      metadata: {name: "istio-validator-istio-system", labels: {"istio.io/rev": "default"}},
      webhooks: [webhook("rev.validation.istio.io"; {}; "/validate")
                 | .rules = [{operations: ["CREATE", "UPDATE"], apiGroups: ["networking.istio.io"], apiVersions: ["*"], resources: ["*"]}]]}],
    namespaces: [
      {metadata: {name: "default", labels: {"kubernetes.io/metadata.name": "default", "istio-injection": "enabled"}}, status: {phase: "Active"}},
      {metadata: {name: "istio-system", labels: {"kubernetes.io/metadata.name": "istio-system"}}, status: {phase: "Active"}},
      {metadata: {name: "apps", labels: {"kubernetes.io/metadata.name": "apps", "istio.io/rev": "default"}}, status: {phase: "Active"}}],
    services: [{
      metadata: {name: "istiod", namespace: "istio-system", labels: {app: "istiod", "istio.io/rev": "default"}},
      spec: {type: "ClusterIP", clusterIP: "10.96.0.15", selector: {app: "istiod"},
             ports: [{name: "grpc-xds", protocol: "TCP", port: 15010, targetPort: 15010},
                     {name: "https-dns", protocol: "TCP", port: 15012, targetPort: 15012},
                     {name: "https-webhook", protocol: "TCP", port: 443, targetPort: $port}]}}],
    endpointslices: [{
      metadata: {name: "istiod-x7k2p", namespace: "istio-system",
                 labels: {"kubernetes.io/service-name": "istiod", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
      addressType: "IPv4",
      endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true, serving: true, terminating: false},
                   targetRef: {kind: "Pod", namespace: "istio-system", name: "istiod-5f8d7c-abcde"}, nodeName: "node-1"}],
      ports: [{name: "https-webhook", protocol: "TCP", port: $port}, {name: "https-dns", protocol: "TCP", port: 15012},
              {name: "grpc-xds", protocol: "TCP", port: 15010}]}],
    configmaps: [{metadata: {name: "istio-ca-root-cert", namespace: "istio-system"}, data: {"root-cert.pem": $root}}],
    pods: [{metadata: {name: "istiod-5f8d7c-abcde", namespace: "istio-system"}, status: {podIP: "127.0.0.1"}}]
  } | .endpointslices += [$kubernetes_slice] | .nodes = [$node] | '"${1:-.}" >"$workdir/state.tmp"
  mv "$workdir/state.tmp" "$workdir/state.json"
}

start_apiserver() {
  local gopeer=()
  if [ -x "${GOPEER:-}" ]; then gopeer=(--gopeer "$GOPEER"); fi
  start_fake_apiserver --log "$workdir/requests.log" "${gopeer[@]}" "$@"
}

# The canary namespace of the admission targets, labelled for injection.
with_canary='.namespaces += [{metadata: {name: "meshprobe-canary", labels: {"kubernetes.io/metadata.name": "meshprobe-canary", "istio-injection": "enabled"}}, status: {phase: "Active"}}]'

# The mesh config as istioctl installs it: ConfigMap istio (istio-REV for a
# revision) in istio-system, its MeshConfig a YAML string under data.mesh.
with_mesh_config() {  # with_mesh_config CONFIGMAP_NAME DISCOVERY_ADDRESS: a write_state filter
  local mesh
  mesh=$(printf 'accessLogFile: /dev/stdout\ndefaultConfig:\n  discoveryAddress: %s\n  proxyMetadata: {}\nrootNamespace: istio-system\ntrustDomain: cluster.local\n' "$2")
  printf '.configmaps += [{metadata: {name: "%s", namespace: "istio-system", labels: {"istio.io/rev": "default"}}, data: {mesh: %s, meshNetworks: "networks: {}"}}]' \
    "$1" "$(jq -Rs . <<<"$mesh")"
}

# Every admission request was a dry run.
all_creates_are_dry_runs() {
  local creates
  creates=$(jq -s '[.[] | select(.method == "POST" and (.path | test("/(pods|gateways)$")))]' "$workdir/requests.log")
  [ "$(jq 'length' <<<"$creates")" -gt 0 ] || fail "no dry-run create reached the API server"
  jq -e 'all(.query.dryRun == "All")' <<<"$creates" >/dev/null || fail "a create without dryRun=All: $creates"
}

write_kubeconfig() {  # write_kubeconfig FILE [TOKEN]
  write_token_kubeconfig "$1" "https://127.0.0.1:$API_PORT" "$workdir/api/ca.pem" "${2:-$TOKEN}"
}

write_check_config() {  # write_check_config EXTRA_TARGETS_YAML
  cat >"$workdir/check.yaml" <<YAML
kubernetes: {kubeconfig: kubeconfig.yaml}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector, webhook: rev.namespace.sidecar-injector.istio.io}
targets:
  - name: istiod-webhook-pods
    url: https://istiod.istio-system.svc:443/ready
    discover: endpoints
    ca: injector
$1
YAML
}

check() {  # check EXPECTED_EXIT ARGS...
  local expected=$1 rc=0
  shift
  "$MESHPROBE" check "$@" >"$workdir/out" 2>"$workdir/err" || rc=$?
  [ "$rc" = "$expected" ] || fail "exit $rc, expected $expected for: meshprobe check $*"
}

json() { jq -e "$@" "$workdir/out" >/dev/null || fail "JSON does not match: $*"; }

# FailedCreate events as a ReplicaSet controller records them (core/v1): the
# injector's call timing out, MINUTES_AGO before now, COUNT times.
failed_create_event() {  # failed_create_event NAME REPLICASET MINUTES_AGO COUNT [MESSAGE]
  local at
  at=$(date -u -d "-$3 min" +%Y-%m-%dT%H:%M:%SZ)
  jq -n --arg name "$1" --arg rs "$2" --arg at "$at" --argjson count "$4" \
        --arg message "${5:-Error creating: Internal error occurred: failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to call webhook: Post \"https://istiod.istio-system.svc:443/inject?timeout=10s\": context deadline exceeded}" '
    {metadata: {name: "\($rs).17e0c5\($name)", namespace: "default", uid: "uid-\($name)", resourceVersion: "7\($count)"},
     involvedObject: {kind: "ReplicaSet", namespace: "default", name: $rs, apiVersion: "apps/v1", uid: "rs-\($rs)"},
     reason: "FailedCreate", message: $message, source: {component: "replicaset-controller"},
     firstTimestamp: $at, lastTimestamp: $at, count: $count, type: "Warning", eventTime: null,
     reportingComponent: "replicaset-controller", reportingInstance: ""}'
}

# A running pod as the API returns it; CONTAINERS is a JSON array of names.
running_pod() {  # running_pod NAMESPACE NAME CREATED CONTAINERS [LABELS_JSON [ANNOTATIONS_JSON]]
  jq -n --arg ns "$1" --arg name "$2" --arg at "$3" --argjson containers "$4" --argjson labels "${5:-{\}}" \
    --argjson annotations "${6:-{\}}" '
    {metadata: {name: $name, namespace: $ns, uid: "uid-\($name)", creationTimestamp: $at, labels: ({app: "web"} + $labels),
                annotations: $annotations},
     spec: {containers: [$containers[] | {name: ., image: "registry.example/\(.):1"}], nodeName: "node-1"},
     status: {phase: "Running", podIP: "10.8.1.9", startTime: $at}}'
}

write_state
start_apiserver
write_kubeconfig "$workdir/kubeconfig.yaml"

case "$CASE" in
  check_verifies_endpoint_slice_target_with_webhook_ca_bundle)
    write_check_config ""
    check 0 --config "$workdir/check.yaml" --output json
    json '.summary == {"total": 1, "failed": 0}'
    json '.results[0] | .name == "istiod-webhook-pods" and .address == "127.0.0.1" and .diagnosis == "ok"
          and .url == "https://istiod.istio-system.svc:443/ready"
          and .address_labels.ready == "true" and .address_labels.pod == "istiod-5f8d7c-abcde"
          and .address_labels.port == "'"$ISTIOD_PORT"'" and .tls.verified == true'
    json '.hygiene == []'
    # The API server was asked with the token, and lists were paged.
    grep -q '"auth": "token"' "$workdir/requests.log" || fail "no authenticated request"
    ;;
  swapped_ca_bundle_gives_unknown_authority_and_ca_mismatch)
    write_check_config ""
    check 0 --config "$workdir/check.yaml" --output json
    write_state '.mutatingwebhookconfigurations[0].webhooks[].clientConfig.caBundle = "'"$OTHER_CA_B64"'"'
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[0].diagnosis == "tls_unknown_authority"'
    json '[.hygiene[] | select(.code == "webhook_ca_mismatch") | .object] | unique == ["MutatingWebhookConfiguration/istio-sidecar-injector"]'
    json '[.hygiene[] | select(.code == "webhook_ca_mismatch") | .webhook] | sort
          == ["namespace.sidecar-injector.istio.io", "rev.namespace.sidecar-injector.istio.io"]'
    json '.hygiene[0] | (.message | test("does not verify")) and (.remedy | length > 0)'
    ;;
  apiserver_proxy_healthy_path_is_ok)
    write_check_config "  - name: webhook-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
  - name: pods-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    discover: endpoints
    via: apiserver"
    check 0 --config "$workdir/check.yaml" --output json
    json '.results[1] | .name == "webhook-from-apiserver" and .vantage == "apiserver" and .diagnosis == "ok"
          and .http_status == 200 and .address == "istiod.istio-system.svc"'
    json '.results[2] | .name == "pods-from-apiserver" and .vantage == "apiserver" and .diagnosis == "ok"
          and .address == "127.0.0.1" and .address_labels.pod == "istiod-5f8d7c-abcde"'
    grep -q '/api/v1/namespaces/istio-system/services/https:istiod:443/proxy/ready' "$workdir/requests.log" \
      || fail "no service proxy request"
    grep -q "/api/v1/namespaces/istio-system/pods/https:istiod-5f8d7c-abcde:$ISTIOD_PORT/proxy/ready" "$workdir/requests.log" \
      || fail "no pod proxy request"
    ;;
  apiserver_proxy_refused_path_is_tcp_refused)
    write_state '.endpointslices[0].ports[0].port = '"$REFUSED_PORT"
    write_check_config "  - name: webhook-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver"
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[1] | .vantage == "apiserver" and .diagnosis == "tcp_refused" and .failed_phase == "connect"
          and (.message | test("connect: connection refused"))'
    ;;
  apiserver_proxy_dropped_path_is_tcp_timeout)
    write_state '.drop = ["127.0.0.1:'"$ISTIOD_PORT"'"]'
    write_check_config "  - name: webhook-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
    timeout: 5s
    interval: 10s"
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[0].diagnosis == "ok"'   # this node still reaches istiod
    json '.results[1] | .vantage == "apiserver" and .diagnosis == "tcp_timeout"
          and (.message | test("dial tcp 127.0.0.1:'"$ISTIOD_PORT"': i/o timeout"))'
    ;;
  apiserver_still_dialling_at_the_deadline_is_tcp_timeout)
    write_state '.drop = ["127.0.0.1:'"$ISTIOD_PORT"'"] | .dial_timeout = 10'
    write_check_config "  - name: webhook-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
    timeout: 1s"
    start=$(date +%s%N)
    check 1 --config "$workdir/check.yaml" --output json
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$elapsed_ms" -lt 6000 ] || fail "took ${elapsed_ms} ms with a 1s timeout"
    json '.results[1] | .diagnosis == "tcp_timeout" and (.message | test("still trying to reach istiod"))'
    ;;
  hygiene_reports_stale_missing_unmatched_and_not_enforced)
    write_state '
      .mutatingwebhookconfigurations += [{metadata: {name: "istio-sidecar-injector-1-20"},
        webhooks: [.mutatingwebhookconfigurations[0].webhooks[0]
          | .clientConfig.service.name = "istiod-1-20"
          | .namespaceSelector.matchExpressions[0].values = ["1-20"]]}]
      | .mutatingwebhookconfigurations[0].webhooks[1].clientConfig.caBundle = ""
      | .validatingwebhookconfigurations[0].webhooks[0].failurePolicy = "Ignore"
      | .namespaces += [{metadata: {name: "legacy", labels: {"istio.io/rev": "1-19"}}}]'
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '[.hygiene[] | [.code, .object, .webhook]] == [
      ["webhook_ca_bundle_missing", "MutatingWebhookConfiguration/istio-sidecar-injector", "namespace.sidecar-injector.istio.io"],
      ["webhook_stale_revision", "MutatingWebhookConfiguration/istio-sidecar-injector-1-20", "rev.namespace.sidecar-injector.istio.io"],
      ["injection_label_unmatched", "Namespace/legacy", ""],
      ["webhook_validation_not_enforced", "ValidatingWebhookConfiguration/istio-validator-istio-system", "rev.validation.istio.io"]]'
    # The table says the same, with remedies.
    check 1 --config "$workdir/check.yaml" --color never
    for word in HYGIENE webhook_stale_revision injection_label_unmatched "4 hygiene findings" remedy; do
      grep -q -- "$word" "$workdir/out" || fail "table lacks '$word'"
    done
    ;;
  hygiene_without_namespaces_keeps_the_other_checks_findings)
    # A 403 on namespaces: the caBundle, stale-revision and validation checks
    # need none and still report; the injection-label check is a note.
    write_state '
      .forbidden = [{verb: "list", resource: "namespaces"}]
      | .mutatingwebhookconfigurations += [{metadata: {name: "istio-sidecar-injector-1-20"},
        webhooks: [.mutatingwebhookconfigurations[0].webhooks[0] | .clientConfig.service.name = "istiod-1-20"]}]
      | .mutatingwebhookconfigurations[0].webhooks[1].clientConfig.caBundle = ""
      | .validatingwebhookconfigurations[0].webhooks[0].failurePolicy = "Ignore"'
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '[.hygiene[] | .code] == ["webhook_ca_bundle_missing", "webhook_stale_revision", "webhook_validation_not_enforced"]'
    json 'has("hygiene_error") | not'
    json '[.hygiene_notes[] | select(.check == "injection_label_unmatched")] | length == 1 and
          (.[0].message | test("could not run") and test("forbidden \\(403\\)") and test("cannot list resource \"namespaces\""))
          and (.[0].rbac | index("verb \"list\" on \"namespaces\" (cluster-wide)") != null)'
    check 1 --config "$workdir/check.yaml" --color never
    grep -q 'check injection_label_unmatched could not run' "$workdir/out" || fail "table lacks the note"
    ;;
  hygiene_with_a_kind_not_served_runs_on_the_other)
    # No ValidatingWebhookConfiguration kind (404): the caBundle check runs on
    # the mutating ones, the validation check is a note; nothing passes silently.
    write_state '.absent_kinds = ["validatingwebhookconfigurations"]
      | .mutatingwebhookconfigurations[0].webhooks[1].clientConfig.caBundle = ""'
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '[.hygiene[] | .code] == ["webhook_ca_bundle_missing"]'
    json '[.hygiene_notes[] | .check] | index("webhook_validation_not_enforced") != null and index("webhook_ca_bundle_missing") != null'
    json '[.hygiene_notes[] | select(.check == "webhook_validation_not_enforced") | .message][0]
          | test("not found \\(404\\): the server could not find the requested resource")'
    ;;
  hygiene_lists_are_paged)
    # Pages hold 500 objects: 1,201 validating configurations take three.
    write_state '.validatingwebhookconfigurations += [range(0; 1200) | {metadata: {name: "other-\(.)"}, webhooks: []}]'
    write_check_config ""
    check 0 --config "$workdir/check.yaml" --output json
    jq -s -e '[.[] | select(.path == "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations")]
              | length == 3 and (.[0].query.limit == "500") and (.[1].query | has("continue"))
              and (.[2].query | has("continue"))' "$workdir/requests.log" >/dev/null \
      || fail "lists were not paged: $(grep validating "$workdir/requests.log" | head -3)"
    ;;
  forbidden_configmap_names_the_missing_rbac_verb)
    write_state '.forbidden = [{verb: "get", resource: "configmaps", namespace: "istio-system"}]'
    cat >"$workdir/check.yaml" <<YAML
kubernetes: {kubeconfig: kubeconfig.yaml, hygiene: false}
ca_bundles:
  mesh-root: {configmap: istio-system/istio-ca-root-cert, key: root-cert.pem}
targets:
  - name: xds-pods
    url: https://istiod.istio-system.svc:443/ready
    discover: endpoints
    ca: mesh-root
YAML
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[0] | .diagnosis == "kubernetes_api_error" and .success == false
          and (.message | test("needs RBAC verb \"get\" on \"configmaps\" in namespace \"istio-system\""))
          and (.message | test("cannot get resource \"configmaps\""))'
    json 'has("hygiene") | not'
    ;;
  unauthorized_token_is_reported)
    write_kubeconfig "$workdir/kubeconfig.yaml" wrong-token
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[0] | .diagnosis == "kubernetes_api_error" and (.message | test("unauthorized \\(401\\)"))'
    json '.hygiene_error | test("401")'
    ;;
  admission_probes_from_check_see_the_sidecar_and_the_denial)
    write_state "$with_canary"
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.results[] | .name] == ["istiod-webhook-pods", "istiod-xds-pods", "istiod-webhook-from-apiserver",
                                   "injection-dry-run", "validation-dry-run"]'
    json '.results[3] | .diagnosis == "ok" and .vantage == "apiserver"
          and .url == "admission://inject/meshprobe-canary" and (.message | test("istio-proxy as a container"))'
    json '.results[4] | .diagnosis == "ok" and .address_labels.webhook == "rev.validation.istio.io"
          and (.message | test("gateway must have at least one server"))'
    all_creates_are_dry_runs
    # One verdict per webhook: confirmed by the call that went through it,
    # unconfirmed where no call did (the rev webhook does not select the canary).
    json '[.verdicts[] | {webhook, diagnosis, hop}] == [
            {webhook: "rev.namespace.sidecar-injector.istio.io", diagnosis: "unconfirmed", hop: "inferred"},
            {webhook: "namespace.sidecar-injector.istio.io", diagnosis: "ok", hop: "none"},
            {webhook: "rev.validation.istio.io", diagnosis: "ok", hop: "none"}]'
    ;;
  admission_probe_reads_the_api_servers_dial_timeout)
    write_state "$with_canary"' | .mutatingwebhookconfigurations[0].webhooks[].timeoutSeconds = 2 | .drop = ["127.0.0.1:'"$ISTIOD_PORT"'"]'
    write_check_config "  - name: injection-dry-run
    admission: inject
    namespace: meshprobe-canary
    timeout: 10s"
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[1] | .diagnosis == "tcp_timeout" and .vantage == "apiserver"
          and .address_labels.webhook == "namespace.sidecar-injector.istio.io"
          and (.address_labels.webhook_url | startswith("https://istiod.istio-system.svc:443/inject"))
          and (.message | test("failed calling webhook \"namespace.sidecar-injector.istio.io\": failed to call webhook: Post .*: dial tcp 127.0.0.1:'"$ISTIOD_PORT"': i/o timeout"))'
    all_creates_are_dry_runs
    # The verdict names the hop: the API server cannot reach the pod this agent reaches.
    json '.verdicts[] | select(.webhook == "namespace.sidecar-injector.istio.io")
          | .diagnosis == "tcp_timeout" and .hop == "control_plane_network" and .confirmed
          and (.message | test("the API server cannot reach istiod pod istiod-5f8d7c-abcde 127.0.0.1:'"$ISTIOD_PORT"'"))
          and (.message | test("while this agent in the pod network reaches it"))
          and (.remedy | test("allow TCP '"$ISTIOD_PORT"' from the control plane"))'
    # The table shows it too.
    check 1 --config "$workdir/check.yaml" --color never
    grep -q "^WEBHOOKS" "$workdir/out" || fail "no WEBHOOKS section: $(cat "$workdir/out")"
    grep -q "^tcp_timeout  namespace.sidecar-injector.istio.io  hop control_plane_network" "$workdir/out" \
      || fail "no verdict row: $(cat "$workdir/out")"
    ;;
  admission_timeout_in_the_agent_is_a_verdict_with_the_gke_remedy)
    # The agent joins what it knows into the verdict: /status, / and the metric.
    write_state "$with_canary"' | .mutatingwebhookconfigurations[0].webhooks[].timeoutSeconds = 2
      | .drop = ["127.0.0.1:'"$ISTIOD_PORT"'"] | .nodes[0].spec.providerID = "gce://proj/us-central1-a/gke-node-1"'
    AGENT_PORT=$(free_port)
    cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: test
node_name: node-1
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 2s}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector, webhook: namespace.sidecar-injector.istio.io}
targets:
  - {name: istiod-webhook-pods, url: "https://istiod.istio-system.svc:443/ready", discover: endpoints, ca: injector, interval: 1s, timeout: 1s}
  - {name: injection-dry-run, admission: inject, interval: 3s, timeout: 3s}
YAML
    "$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
    track_pid $!
    URL="http://127.0.0.1:$AGENT_PORT"
    status() { curl -sf "$URL/status"; }
    # The namespace injector's verdict meets the jq condition $1 (one call:
    # jq 1.6 passes -e on empty input, so no pipe of one jq into another).
    verdict_is() {
      status | jq -e '[.verdicts[]? | select(.webhook == "namespace.sidecar-injector.istio.io")]
                      | length == 1 and (.[0] | '"$1"')' >/dev/null
    }
    verdicts() { status | jq -c '{verdicts, errors: .kubernetes.errors}'; }
    eventually 20 verdict_is '.diagnosis == "tcp_timeout"' || fail "status: $(verdicts)"
    verdict_is '.hop == "control_plane_network" and .confirmed and .platform == "gke"
          and (.message | test("the API server cannot reach istiod pod istiod-5f8d7c-abcde 127.0.0.1:'"$ISTIOD_PORT"'"))
          and (.remedy | test("GKE private cluster: add tcp:'"$ISTIOD_PORT"' to the control plane.s firewall rule"))
          and (.remedy | test("the API server answers from 172.18.0.2"))
          and .notes == []' || fail "status: $(verdicts)"
    curl -sf "$URL/metrics" >"$workdir/metrics.txt"
    grep -q '^meshprobe_webhook_verdict{configuration="istio-sidecar-injector",webhook="namespace.sidecar-injector.istio.io",diagnosis="tcp_timeout"} 1$' \
      "$workdir/metrics.txt" || fail "metrics: $(grep webhook_verdict "$workdir/metrics.txt")"
    # One series per webhook of istio's configurations: three.
    [ "$(grep -c '^meshprobe_webhook_verdict{' "$workdir/metrics.txt")" = 3 ] \
      || fail "metrics: $(grep webhook_verdict "$workdir/metrics.txt")"
    if command -v promtool >/dev/null; then
      promtool check metrics <"$workdir/metrics.txt" >"$workdir/promtool.txt" 2>&1 \
        || fail "promtool: $(cat "$workdir/promtool.txt")"
    fi
    curl -sf "$URL/" >"$workdir/page.html"
    grep -q '<h2>Webhooks</h2>' "$workdir/page.html" || fail "no Webhooks section on the page"
    grep -q 'GKE private cluster: add tcp:'"$ISTIOD_PORT" "$workdir/page.html" || fail "no remedy on the page"
    # istiod reachable again: the verdict changes, and the old series goes.
    write_state "$with_canary"' | .nodes[0].spec.providerID = "gce://proj/us-central1-a/gke-node-1"'
    eventually 20 verdict_is '.diagnosis == "ok" and .hop == "none"' || fail "status: $(verdicts)"
    curl -sf "$URL/metrics" >"$workdir/metrics.txt"
    grep -q '^meshprobe_webhook_verdict{configuration="istio-sidecar-injector",webhook="namespace.sidecar-injector.istio.io",diagnosis="ok"} 1$' \
      "$workdir/metrics.txt" || fail "metrics: $(grep webhook_verdict "$workdir/metrics.txt")"
    ! grep -q '^meshprobe_webhook_verdict{.*diagnosis="tcp_timeout"' "$workdir/metrics.txt" \
      || fail "the old verdict's series stayed: $(grep webhook_verdict "$workdir/metrics.txt")"
    [ "$(grep -c '^meshprobe_webhook_verdict{' "$workdir/metrics.txt")" = 3 ] \
      || fail "metrics: $(grep webhook_verdict "$workdir/metrics.txt")"
    ;;
  admission_verdict_from_check_names_the_eks_rule_and_the_api_servers_addresses)
    write_state "$with_canary"' | .mutatingwebhookconfigurations[0].webhooks[].timeoutSeconds = 2
      | .validatingwebhookconfigurations[0].webhooks[].timeoutSeconds = 2
      | .drop = ["127.0.0.1:'"$ISTIOD_PORT"'"] | .nodes[0].spec.providerID = "aws:///us-east-1a/i-0abc123def4567890"
      | (.endpointslices[] | select(.metadata.name == "kubernetes") | .endpoints) =
          [{addresses: ["10.0.12.34"], conditions: {ready: true}}, {addresses: ["10.0.45.67"], conditions: {ready: true}}]'
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '.verdicts[] | select(.webhook == "namespace.sidecar-injector.istio.io")
          | .diagnosis == "tcp_timeout" and .hop == "control_plane_network" and .platform == "eks"
          and (.remedy | test("EKS: add an inbound rule to the node security group allowing TCP '"$ISTIOD_PORT"' from the cluster security group"))
          and (.remedy | test("the API server answers from 10.0.12.34, 10.0.45.67"))'
    # Two reads, each once: one node, and the kubernetes Service's slices.
    jq -s -e '[.[] | select(.path == "/api/v1/nodes")] | length == 1 and .[0].query.limit == "1"' \
      "$workdir/requests.log" >/dev/null || fail "nodes read: $(grep nodes "$workdir/requests.log")"
    jq -s -e '[.[] | select(.path == "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices")]
              | length == 1 and .[0].query.labelSelector == "kubernetes.io/service-name=kubernetes"' \
      "$workdir/requests.log" >/dev/null || fail "slices read: $(grep default "$workdir/requests.log")"
    ;;
  admission_verdict_with_nodes_forbidden_has_no_platform_and_names_the_verb)
    write_state "$with_canary"' | .mutatingwebhookconfigurations[0].webhooks[].timeoutSeconds = 2
      | .drop = ["127.0.0.1:'"$ISTIOD_PORT"'"] | .nodes[0].spec.providerID = "gce://proj/us-central1-a/gke-node-1"
      | .forbidden = [{verb: "list", resource: "nodes"}]'
    write_check_config "  - name: injection-dry-run
    admission: inject
    namespace: meshprobe-canary
    timeout: 10s"
    check 1 --config "$workdir/check.yaml" --output json
    json '.verdicts[] | select(.webhook == "namespace.sidecar-injector.istio.io")
          | .diagnosis == "tcp_timeout" and .hop == "control_plane_network" and .platform == "unknown"
          and (.remedy | test("allow TCP '"$ISTIOD_PORT"' from the control plane"))
          and (.remedy | test("GKE") | not)
          and (.notes | length == 1)
          and (.notes[0] | test("needs RBAC verb \"list\" on \"nodes\" \\(cluster-wide\\)") and test("cannot list resource \"nodes\""))'
    # The other findings and verdicts are untouched by the failed read.
    json '[.verdicts[] | .webhook] == ["rev.namespace.sidecar-injector.istio.io", "namespace.sidecar-injector.istio.io", "rev.validation.istio.io"]'
    json '.hygiene == []'
    check 1 --config "$workdir/check.yaml" --color never
    # (The table wraps long notes: read it as one line.)
    tr -s ' \n' ' ' <"$workdir/out" | grep -q 'note nodes: forbidden (403): meshprobe needs RBAC verb "list" on "nodes"' \
      || fail "table lacks the note: $(cat "$workdir/out")"
    ;;
  admission_probe_in_an_unselected_namespace_is_injection_skipped)
    write_state '.namespaces += [{metadata: {name: "meshprobe-canary", labels: {"kubernetes.io/metadata.name": "meshprobe-canary"}}, status: {phase: "Active"}}]'
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '.results[3] | .name == "injection-dry-run" and .diagnosis == "injection_skipped"'
    grep -q "has neither istio-injection=enabled nor istio.io/rev" "$workdir/err" || fail "no note on the unlabelled canary: $(cat "$workdir/err")"
    ;;
  admission_probe_forbidden_names_the_create_verb)
    write_state "$with_canary"' | .forbidden = [{verb: "create", resource: "pods", namespace: "meshprobe-canary"}]'
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '.results[3] | .diagnosis == "kubernetes_api_error"
          and (.message | test("verb \"create\" on \"pods\" in namespace \"meshprobe-canary\""))'
    ;;
  no_canary_namespace_leaves_the_admission_probes_out_with_a_note)
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.results[] | .name] == ["istiod-webhook-pods", "istiod-xds-pods", "istiod-webhook-from-apiserver"]'
    grep -q "no admission probes: namespace meshprobe-canary does not exist (--create-canary" "$workdir/err" \
      || fail "no note on the missing canary: $(cat "$workdir/err")"
    jq -s -e 'all(.method != "POST")' "$workdir/requests.log" >/dev/null || fail "something was created unasked"
    ;;
  create_canary_creates_and_labels_the_namespace)
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --create-canary --revision default --output json
    grep -q "created namespace meshprobe-canary (istio.io/rev=default)" "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    jq -e '.namespaces[] | select(.metadata.name == "meshprobe-canary") | .metadata.labels["istio.io/rev"] == "default"' \
      "$workdir/state.json" >/dev/null || fail "the namespace was not created with its label"
    json '(.results[] | select(.name == "injection-dry-run") | .diagnosis) == "ok"'
    # Once there, it is used as it is: not created again.
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --create-canary --output json
    ! grep -q "created namespace" "$workdir/err" || fail "created twice: $(cat "$workdir/err")"
    ;;
  admission_targets_run_in_the_agent)
    write_state "$with_canary"
    AGENT_PORT=$(free_port)
    cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: test
node_name: node-1
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 1s, hygiene: false}
targets:
  - {name: injection-dry-run, admission: inject, interval: 1s, timeout: 1s}
  - {name: validation-dry-run, admission: validate, interval: 1s, timeout: 1s}
YAML
    "$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
    track_pid $!
    metrics() { curl -sf "http://127.0.0.1:$AGENT_PORT/metrics"; }
    passing() { grep -q "^probe_success{target=\"$1\",url=\"admission://[a-z]*/meshprobe-canary\",vantage=\"apiserver\",.*} 1$" <(metrics); }
    eventually 15 passing injection-dry-run || fail "metrics: $(metrics | grep probe_success)"
    eventually 15 passing validation-dry-run || fail "metrics: $(metrics | grep probe_success)"
    all_creates_are_dry_runs
    ;;
  kubeconfig_alone_probes_the_builtin_kubernetes_set)
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.results[] | .name] == ["istiod-webhook-pods", "istiod-xds-pods", "istiod-webhook-from-apiserver"]'
    json '.results[0] | .diagnosis == "ok" and .address == "127.0.0.1"'
    # Nothing listens on 15012 here: the xDS pod probe is refused.
    json '.results[1] | .diagnosis == "tcp_refused" and .address_labels.port == "15012"'
    json '.results[2] | .vantage == "apiserver" and .diagnosis == "ok"'
    json '.hygiene == []'
    ;;
  stale_discovery_address_is_probed_and_found)
    # The sidecars are told to dial a revision that is not installed.
    write_state "$(with_mesh_config istio istiod-asm-1121-3.istio-system.svc:15012)"
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.results[] | .name] == ["istiod-webhook-pods", "xds-discovery-address", "istiod-webhook-from-apiserver"]'
    json '.results[1] | .url == "grpc://istiod-asm-1121-3.istio-system.svc:15012" and .diagnosis == "dns_not_found"
          and (.message | test("Service \"istiod-asm-1121-3\" not found"))'
    json '[.hygiene[] | .code] == ["discovery_address_stale"]'
    json '.hygiene[0] | .object == "Service/istio-system/istiod-asm-1121-3"
          and (.message | test("ConfigMap istio-system/istio "))'
    grep -q '"path": "/api/v1/namespaces/istio-system/configmaps/istio"' "$workdir/requests.log" \
      || fail "the mesh ConfigMap was not read"
    ;;
  revision_reads_its_own_mesh_config)
    # --revision 1-22: ConfigMap istio-1-22, not istio (which names a good address).
    write_state "$(with_mesh_config istio istiod.istio-system.svc:15012) | $(with_mesh_config istio-1-22 istiod-gone.istio-system.svc:15012)"
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --revision 1-22 --output json
    json '[.results[] | select(.name == "xds-discovery-address") | .url] == ["grpc://istiod-gone.istio-system.svc:15012"]'
    json '[.hygiene[] | select(.code == "discovery_address_stale") | .object] == ["Service/istio-system/istiod-gone"]'
    ;;
  a_pods_own_discovery_address_naming_a_missing_service_is_stale)
    # The mesh's address is good; two injected pods override it with a
    # revision that is gone, one with istiod's own (no finding), one with a
    # ProxyConfig that sets no address.
    gone='{"proxy.istio.io/config": "discoveryAddress: istiod-canary.istio-system.svc:15012\n"}'
    pods=$( { running_pod default cart-1 2026-12-04T10:42:03Z '["web","istio-proxy"]' '{}' "$gone"
              running_pod default cart-2 2026-12-04T10:43:03Z '["web","istio-proxy"]' '{}' "$gone"
              running_pod default web-1 2026-12-04T10:44:03Z '["web","istio-proxy"]' '{}' \
                '{"proxy.istio.io/config": "discoveryAddress: istiod.istio-system.svc:15012"}'
              running_pod default hold-1 2026-12-04T10:45:03Z '["web","istio-proxy"]' '{}' \
                '{"proxy.istio.io/config": "holdApplicationUntilProxyStarts: true"}'
            } | jq -s -c .)
    write_state "$(with_mesh_config istio istiod.istio-system.svc:15012) | .pods += $pods"
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.hygiene[] | .code] == ["discovery_address_stale"]'
    json '.hygiene[0] | .object == "Service/istio-system/istiod-canary"
          and (.message | test("annotation proxy.istio.io/config of 2 pods \\(first: default/cart-1\\)"))'
    ;;
  discovery_address_on_the_webhook_port_is_grpc_not_grpc)
    # The Service exists, but 443 is its webhook port: the real gRPC probe says so.
    write_state "$(with_mesh_config istio istiod.istio-system.svc:443)"
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.results[] | .name] == ["istiod-webhook-pods", "xds-discovery-address", "istiod-webhook-from-apiserver"]'
    json '.results[1] | .url == "grpc://istiod.istio-system.svc:443" and .address == "127.0.0.1"
          and .diagnosis == "grpc_not_grpc"'
    json '.hygiene == []'
    ;;
  bad_mesh_yaml_is_a_note_not_a_crash)
    write_state '.configmaps += [{metadata: {name: "istio", namespace: "istio-system"}, data: {mesh: "defaultConfig:\n  discoveryAddress: [a\n"}}]'
    check 1 --kubeconfig "$workdir/kubeconfig.yaml" --output json
    json '[.results[] | .name] == ["istiod-webhook-pods", "istiod-xds-pods", "istiod-webhook-from-apiserver"]'
    json '[.hygiene_notes[] | select(.check == "discovery_address_stale") | .message][0]
          | test("ConfigMap istio-system/istio: its key \"mesh\" is not valid YAML")'
    grep -q "discovery address could not be read" "$workdir/err" || fail "no note on stderr"
    ;;
  agent_reports_a_stale_discovery_address)
    write_state "$(with_mesh_config istio-asm-1121-3 istiod-asm-1121-3.istio-system.svc:15012)"
    AGENT_PORT=$(free_port)
    # kubernetes.revision: the agent reads ConfigMap istio-asm-1121-3.
    cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: test
node_name: node-1
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 1s, revision: asm-1121-3}
targets:
  - {name: istiod-webhook, url: "tcp://127.0.0.1:$ISTIOD_PORT", interval: 1s, timeout: 1s}
YAML
    "$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
    track_pid $!
    metrics() { curl -sf "http://127.0.0.1:$AGENT_PORT/metrics"; }
    stale_reported() { grep -q '^meshprobe_hygiene_findings{code="discovery_address_stale"} 1$' <(metrics); }
    eventually 15 stale_reported || fail "metrics: $(metrics | grep hygiene)"
    grep -q '^meshprobe_hygiene_check_success{check="discovery_address_stale"} 1$' <(metrics) \
      || fail "the check did not succeed: $(metrics | grep hygiene_check)"
    grep -q 'event=hygiene_finding.*discovery_address_stale' "$workdir/agent.log" || fail "finding not logged"
    ;;
  explain_with_kubeconfig_runs_the_checks_and_prints_the_verdict)
    write_state "$(with_mesh_config istio istiod-asm-1121-3.istio-system.svc:15012)"
    rc=0
    "$MESHPROBE" explain 'warning envoy config StreamAggregatedResources gRPC config stream closed: 14, no healthy upstream' \
      --kubeconfig "$workdir/kubeconfig.yaml" >"$workdir/out" 2>"$workdir/err" || rc=$?
    [ "$rc" = 3 ] || fail "exit $rc, expected 3 (recognised, a check failed)"
    grep -q '^discovery_address: The discovery address is wrong' "$workdir/out" || fail "no explanation"
    grep -q "^checked: meshprobe check --kubeconfig $workdir/kubeconfig.yaml$" "$workdir/out" || fail "no checked line"
    grep -q 'xds-discovery-address' "$workdir/out" || fail "the discovery address was not probed"
    grep -q 'discovery_address_stale' "$workdir/out" || fail "no finding in the report"
    grep -q '^verdict: a check failed' "$workdir/out" || fail "no verdict"
    rc=0
    "$MESHPROBE" explain 'no healthy upstream' --kubeconfig "$workdir/kubeconfig.yaml" --output json \
      >"$workdir/out" 2>"$workdir/err" || rc=$?
    [ "$rc" = 3 ] || fail "json: exit $rc, expected 3"
    json '.recognised == true and .matches[0].id == "discovery_address"'
    json '.checks.passed == false and .checks.command == "meshprobe check --kubeconfig '"$workdir"'/kubeconfig.yaml"'
    json '[.checks.report.results[] | select(.name == "xds-discovery-address") | .diagnosis] == ["dns_not_found"]'
    json '[.checks.report.hygiene[] | .code] == ["discovery_address_stale"]'
    json '.verdicts | type == "array"'
    ;;
  explain_with_kubeconfig_on_a_healthy_cluster_exits_0)
    # istiod's xDS port (gRPC over TLS) on the pod port the slice names for 15012.
    XDS_PORT=$(serve --mode tls_h2 --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    write_state "$(with_mesh_config istio istiod.istio-system.svc:15012)"'
      | .endpointslices[0].ports |= map(if .name == "https-dns" then .port = '"$XDS_PORT"' else . end)'
    rc=0
    "$MESHPROBE" explain 'gRPC config stream closed: 14, no healthy upstream' \
      --kubeconfig "$workdir/kubeconfig.yaml" >"$workdir/out" 2>"$workdir/err" || rc=$?
    [ "$rc" = 0 ] || fail "exit $rc, expected 0 (recognised, every check passed)"
    grep -q '^verdict: every check passed' "$workdir/out" || fail "no passing verdict"
    grep -q 'xds-discovery-address' "$workdir/out" || fail "the discovery address was not probed"
    ;;
  explain_unrecognised_with_kubeconfig_runs_nothing)
    rc=0
    "$MESHPROBE" explain 'the weather is fine' --kubeconfig "$workdir/kubeconfig.yaml" >"$workdir/out" 2>"$workdir/err" || rc=$?
    [ "$rc" = 1 ] || fail "exit $rc, expected 1"
    if grep -q '"path": "/api/v1/namespaces/istio-system/configmaps/istio"' "$workdir/requests.log"; then
      fail "an unrecognised text ran the checks"
    fi
    ;;
  not_ready_endpoint_is_probed_and_labelled)
    write_state '.endpointslices[0].endpoints += [{addresses: ["127.0.0.2"], conditions: {ready: false, serving: false, terminating: true},
                  targetRef: {kind: "Pod", namespace: "istio-system", name: "istiod-5f8d7c-old"}, nodeName: "node-2"}]'
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '[.results[] | {address, diagnosis, ready: .address_labels.ready, terminating: .address_labels.terminating}]
          == [{address: "127.0.0.1", diagnosis: "ok", ready: "true", terminating: "false"},
              {address: "127.0.0.2", diagnosis: "tcp_refused", ready: "false", terminating: "true"}]'
    ;;
  missing_service_is_dns_not_found_and_stale)
    write_state '.services = []'
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '.results[0] | .diagnosis == "dns_not_found" and (.message | test("Service \"istiod\" not found"))'
    json '[.hygiene[] | .code] | unique == ["webhook_stale_revision"]'
    ;;
  kubeconfig_client_certificate_authenticates)
    kill "$apiserver_pid"; wait "$apiserver_pid" 2>/dev/null || true
    rm -f "$workdir/api.port"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=client-ca" \
      -keyout "$workdir/client-ca.key" -out "$workdir/client-ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=meshprobe/O=meshprobe" \
      -keyout "$workdir/client.key" -out "$workdir/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$workdir/client.ext"
    openssl x509 -req -in "$workdir/client.csr" -CA "$workdir/client-ca.pem" -CAkey "$workdir/client-ca.key" \
      -CAcreateserial -days 1 -extfile "$workdir/client.ext" -out "$workdir/client.pem" 2>/dev/null
    write_state '.token = "unused-token-nobody-has"'
    start_apiserver --client-ca "$workdir/client-ca.pem"
    cat >"$workdir/kubeconfig.yaml" <<YAML
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: api/ca.pem}
contexts:
- name: test
  context: {cluster: c, user: u}
users:
- name: u
  user: {client-certificate: client.pem, client-key-data: $(b64 "$workdir/client.key")}
YAML
    write_check_config ""
    check 0 --config "$workdir/check.yaml" --output json
    grep -q '"auth": "certificate"' "$workdir/requests.log" || fail "not authenticated by certificate"
    ;;
  kubeconfig_exec_plugin_user_authenticates|exec_plugin_failure_names_the_user_and_its_stderr|agent_logs_the_exec_plugins_stderr)
    # The user as gke-gcloud-auth-plugin's kubeconfig has it, with a plugin
    # next to the kubeconfig (a relative command) that prints the token.
    write_kubeconfig "$workdir/kubeconfig.yaml"
    sed -i '/^    token: /d' "$workdir/kubeconfig.yaml"
    cat >>"$workdir/kubeconfig.yaml" <<YAML
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./plugin.sh
      args: [--cluster, test]
      env: [{name: PLUGIN_TOKEN, value: "$TOKEN"}]
      installHint: not used
      provideClusterInfo: true
YAML
    if [ "$CASE" != exec_plugin_failure_names_the_user_and_its_stderr ]; then
      cat >"$workdir/plugin.sh" <<'SH'
#!/bin/sh
echo "plugin $*" >&2
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$PLUGIN_TOKEN"
SH
    else
      cat >"$workdir/plugin.sh" <<'SH'
#!/bin/sh
printf '{"status":{"token":"%s"}}\n' "$PLUGIN_TOKEN"
echo "login expired: run gcloud auth login" >&2
exit 3
SH
    fi
    chmod +x "$workdir/plugin.sh"
    write_check_config ""
    if [ "$CASE" = agent_logs_the_exec_plugins_stderr ]; then
      # The agent logs in JSON: the plugin's stderr must arrive as one of its
      # events, not as a raw line that breaks the log's format.
      AGENT_PORT=$(free_port)
      cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: test
node_name: node-1
log: {format: json}
defaults: {interval: 500ms, timeout: 400ms}
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 1s}
targets:
  - name: webhook-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
YAML
      "$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
      agent_pid=$!
      logged() { grep -q '"event":"exec_plugin_stderr","stderr":"plugin --cluster test' "$workdir/agent.log"; }
      eventually 10 logged || fail "agent log: $(cat "$workdir/agent.log")"
      kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
      if grep -v '^{' "$workdir/agent.log" | grep -q .; then fail "a line that is not JSON: $(grep -v '^{' "$workdir/agent.log")"; fi
      if grep -q "$TOKEN" "$workdir/agent.log"; then fail "the credential was logged"; fi
    elif [ "$CASE" = kubeconfig_exec_plugin_user_authenticates ]; then
      check 0 --config "$workdir/check.yaml" --output json
      grep -q '"auth": "token"' "$workdir/requests.log" || fail "not authenticated by the plugin's token"
      grep -q 'exec plugin ./plugin.sh: plugin --cluster test' "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    else
      check 1 --config "$workdir/check.yaml" --output json
      json '.results[0] | .diagnosis == "kubernetes_api_error" and (.message | test("user \"meshprobe\": exec: executable ./plugin.sh failed with exit code 3; its stderr ends: login expired"))'
      if grep -q "$TOKEN" "$workdir/out" "$workdir/err"; then fail "the plugin's stdout was shown"; fi
    fi
    ;;
  missing_kubeconfig_is_a_usage_error)
    check 2 --kubeconfig "$workdir/nope.yaml"
    grep -q "nope.yaml: cannot read" "$workdir/err" || fail "stderr: $(cat "$workdir/err")"
    ;;
  watch_reads_the_cluster_again_each_round)
    # The caBundle swapped under a running watch: the next round reads it,
    # and both the probe and the hygiene check change state.
    write_check_config ""
    "$MESHPROBE" check --config "$workdir/check.yaml" --watch=500ms --color never \
      >"$workdir/out" 2>"$workdir/err" &
    watch_pid=$!
    track_pid "$watch_pid"
    eventually 10 grep -q '^1 target, 0 failed' "$workdir/out" || fail "no first table"
    write_state '.mutatingwebhookconfigurations[0].webhooks[].clientConfig.caBundle = "'"$OTHER_CA_B64"'"'
    changed() { grep -Eq "Z $1 $2 -> $3\$" "$workdir/out"; }
    eventually 10 changed istiod-webhook-pods ok tls_unknown_authority || fail "no change line for the probe"
    eventually 10 changed '\[hygiene\]' ok webhook_ca_mismatch || fail "no change line for the hygiene"
    kill -INT "$watch_pid"
    rc=0
    wait "$watch_pid" || rc=$?
    [ "$rc" = 0 ] || fail "exit $rc after SIGINT"
    ;;
  validate_needs_no_cluster)
    write_check_config ""
    kill "$apiserver_pid"; wait "$apiserver_pid" 2>/dev/null || true
    "$MESHPROBE" validate "$workdir/check.yaml" >"$workdir/out" 2>"$workdir/err" || fail "validate refused it"
    ;;
  check_reports_observed_webhook_failures_and_the_injectors_verdict)
    events=$(jq -s . <(failed_create_event a web-7d9 20 3) <(failed_create_event b cart-5c4 10 1) \
                      <(failed_create_event c api-1f2 5 2) \
                      <(failed_create_event d quota-9 5 1 'Error creating: pods "quota-9-x" is forbidden: exceeded quota: compute'))
    write_state ".events = $events"
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    jq -s -e '[.[] | select(.path == "/api/v1/events")] | length == 1 and (.[0].query.fieldSelector == "reason=FailedCreate")' \
      "$workdir/requests.log" >/dev/null || fail "events not listed with the field selector: $(grep events "$workdir/requests.log")"
    json '.observed.read and (.observed.error == null)'
    json '.observed.totals == [{"webhook": "namespace.sidecar-injector.istio.io", "diagnosis": "webhook_timeout", "failures": 6}]'
    json '[.observed.recent[].object] == ["ReplicaSet default/api-1f2", "ReplicaSet default/cart-5c4", "ReplicaSet default/web-7d9"]'
    json '.observed.recent[0].message | test("context deadline exceeded")'
    # No admission target: the observed failures are the verdict, not an unconfirmed ok.
    json '.verdicts[] | select(.webhook == "namespace.sidecar-injector.istio.io")
          | .diagnosis == "webhook_timeout" and .hop == "webhook_call"
            and (.message | test("3 ReplicaSets failed to create pods in the last hour, all with webhook_timeout"))'
    json '.verdicts[] | select(.webhook == "rev.namespace.sidecar-injector.istio.io") | .diagnosis == "unconfirmed"'
    ;;
  check_finds_pods_without_sidecars_in_injected_namespaces_paged)
    # default (istio-injection=enabled): 1,200 pods with sidecars and three
    # without, on three pages; kube-system (not injected): one without a
    # sidecar that asks for none (not read) and one labelled
    # sidecar.istio.io/inject=true (read by the cluster-wide list).
    pods=$( { running_pod default web-7d9-b 2026-12-04T10:45:10Z '["web"]'
              running_pod default web-7d9-a 2026-12-04T10:42:03Z '["web"]'
              running_pod default batch-x 2026-12-04T10:43:00Z '["batch"]' '{"sidecar.istio.io/inject": "false"}'
              running_pod default cart-5c4-x 2026-12-04T10:50:00Z '["web"]'
              running_pod kube-system coredns-1 2026-12-04T08:00:00Z '["coredns"]'
              running_pod kube-system tool-0 2026-12-04T10:47:00Z '["tool"]' '{"sidecar.istio.io/inject": "true"}'
            } | jq -s -c .)
    with_sidecar=$(running_pod default ok-N 2026-12-04T09:00:00Z '["web","istio-proxy"]' | jq -c .)
    write_state ".pods += [range(1; 1201) as \$i | $with_sidecar | .metadata.name = \"ok-\(\$i)\"] + $pods
                 | .namespaces += [{metadata: {name: \"kube-system\", labels: {\"kubernetes.io/metadata.name\": \"kube-system\"}}, status: {phase: \"Active\"}}]"
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '[.hygiene[] | select(.code == "sidecar_missing") | .object] == ["Namespace/default", "Namespace/kube-system"]'
    json '.hygiene[] | select(.object == "Namespace/default")
          | (.message | test("^3 running pods have no istio-proxy sidecar"))
            and (.message | test("web-7d9-a \\(created 2026-12-04T10:42:03Z\\), web-7d9-b"))
            and (.message | test("the earliest was created 2026-12-04T10:42:03Z"))
            and (.doc == "docs/diagnoses.md#sidecar_missing")'
    jq -s -e '[.[] | select(.path == "/api/v1/namespaces/default/pods")]
              | length == 3 and (.[0].query.limit == "500") and (.[2].query | has("continue"))' \
      "$workdir/requests.log" >/dev/null || fail "pods were not paged: $(grep /pods "$workdir/requests.log" | head -3)"
    jq -s -e 'all(.path != "/api/v1/namespaces/kube-system/pods")' "$workdir/requests.log" >/dev/null \
      || fail "an uninjected namespace's pods were read"
    jq -s -e 'any(.path == "/api/v1/pods" and .query.labelSelector == "sidecar.istio.io/inject=true")' \
      "$workdir/requests.log" >/dev/null || fail "no cluster-wide list of the pods asking for injection"
    ;;
  forbidden_pods_and_events_cost_only_their_outputs)
    write_state '.forbidden = [{verb: "list", resource: "pods"}, {verb: "list", resource: "events"}]'
    write_check_config ""
    check 1 --config "$workdir/check.yaml" --output json
    json '.hygiene_notes[] | select(.check == "sidecar_missing") | .rbac == ["verb \"list\" on \"mutatingwebhookconfigurations\" in API group \"admissionregistration.k8s.io\" (cluster-wide)", "verb \"list\" on \"namespaces\" (cluster-wide)", "verb \"list\" on \"pods\" (cluster-wide)"]'
    json '.observed.error | test("forbidden \\(403\\): meshprobe needs RBAC verb \"list\" on \"events\" \\(cluster-wide\\)")'
    json '[.hygiene_notes[].check] == ["sidecar_missing"]'
    ;;
  agent_counts_observed_webhook_failures_without_counting_twice)
    write_state ".events = $(jq -s . <(failed_create_event a web-7d9 5 3))"
    AGENT_PORT=$(free_port)
    cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: test
node_name: node-1
defaults: {interval: 500ms, timeout: 400ms}
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 1s}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - name: istiod-webhook-pods
    url: https://istiod.istio-system.svc:443/ready
    discover: endpoints
    ca: injector
YAML
    "$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
    agent_pid=$!
    URL="http://127.0.0.1:$AGENT_PORT"
    failures_are() {
      grep -qx 'meshprobe_webhook_call_failures_total{webhook="namespace.sidecar-injector.istio.io",diagnosis="webhook_timeout"} '"$1" <(curl -sf "$URL/metrics")
    }
    eventually 10 failures_are 3 || fail "metrics: $(curl -sf "$URL/metrics" | grep webhook_call)"
    # Listed once, then watched: the refreshes (every second) read from
    # memory and count nothing twice. The Event's count grows 3 -> 5
    # through the watch: 5.
    sleep 2.5
    failures_are 3 || fail "a refresh counted twice: $(curl -sf "$URL/metrics" | grep webhook_call)"
    write_state ".events = $(jq -s . <(failed_create_event a web-7d9 1 5))"
    eventually 10 failures_are 5 || fail "metrics: $(curl -sf "$URL/metrics" | grep webhook_call)"
    jq -s -e '[.[] | select(.path == "/api/v1/events")] | (map(select(.query.watch != "true")) | length == 1)
              and (map(select(.query.watch == "true" and .query.resourceVersion != null)) | length >= 1)' \
      "$workdir/requests.log" >/dev/null \
      || fail "events not listed once and watched: $(grep /events "$workdir/requests.log")"
    curl -sf "$URL/status" | jq -e '.observed.recent[0] | .object == "ReplicaSet default/web-7d9" and .count == 5
                                     and .diagnosis == "webhook_timeout"' >/dev/null \
      || fail "status: $(curl -sf "$URL/status" | jq .observed)"
    grep -q 'Observed webhook failures' <(curl -sf "$URL/") || fail "the page has no observed failures"
    grep -q 'event=webhook_call_failed' "$workdir/agent.log" || fail "failure not logged: $(tail -5 "$workdir/agent.log")"
    kill -TERM "$agent_pid"
    wait "$agent_pid" || fail "agent exit $?"
    agent_pid=""
    ;;
  agent_picks_up_a_swapped_ca_bundle_without_restart)
    AGENT_PORT=$(free_port)
    cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
vantage: test
node_name: node-1
defaults: {interval: 500ms, timeout: 400ms}
kubernetes: {kubeconfig: kubeconfig.yaml, refresh: 1s}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - name: istiod-webhook-pods
    url: https://istiod.istio-system.svc:443/ready
    discover: endpoints
    ca: injector
  - name: webhook-from-apiserver
    url: https://istiod.istio-system.svc:443/ready
    via: apiserver
YAML
    "$MESHPROBE" agent --config "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
    agent_pid=$!
    URL="http://127.0.0.1:$AGENT_PORT"
    status() { curl -sf "$URL/status"; }
    diagnosis_is() {
      [ "$(status | jq -r --arg t "$1" '.targets[] | select(.name == $t) | .addresses[0].diagnosis')" = "$2" ]
    }
    eventually 10 diagnosis_is istiod-webhook-pods ok || fail "status: $(status)"
    eventually 10 diagnosis_is webhook-from-apiserver ok || fail "status: $(status)"
    status | jq -e '(.hygiene == []) and .kubernetes.last_refresh_ok
                    and (.targets[] | select(.name == "webhook-from-apiserver") | .vantage == "apiserver")' >/dev/null \
      || fail "status: $(status)"
    write_state '.mutatingwebhookconfigurations[0].webhooks[].clientConfig.caBundle = "'"$OTHER_CA_B64"'"'
    eventually 10 diagnosis_is istiod-webhook-pods tls_unknown_authority || fail "swap not picked up: $(status)"
    has_mismatch() { status | jq -e '[.hygiene[] | .code] | index("webhook_ca_mismatch") != null'; }
    eventually 10 has_mismatch || fail "no webhook_ca_mismatch: $(status)"
    curl -sf "$URL/metrics" >"$workdir/metrics.txt"
    grep -q '^meshprobe_hygiene_findings{code="webhook_ca_mismatch"} 2$' "$workdir/metrics.txt" \
      || fail "metrics: $(grep hygiene "$workdir/metrics.txt")"
    [ "$(grep -c '^meshprobe_hygiene_check_success{check="[a-z_]*"} 1$' "$workdir/metrics.txt")" = 7 ] \
      || fail "not every check ran: $(grep hygiene_check "$workdir/metrics.txt")"
    # Namespaces forbidden: that check says 0, the others still 1. An open
    # watch outlives its RBAC until it ends: the streams are dropped, and
    # the new watch and list of namespaces are refused.
    write_state '.forbidden = [{verb: "list", resource: "namespaces"}] | .drop_watches = true'
    # Scrapes go to a file first: `curl | grep -q` fails under pipefail when
    # grep stops reading before curl has written the whole exposition.
    check_off() {
      curl -sf "$URL/metrics" >"$workdir/metrics-forbidden.txt" &&
        grep -q '^meshprobe_hygiene_check_success{check="injection_label_unmatched"} 0$' "$workdir/metrics-forbidden.txt"
    }
    eventually 10 check_off || fail "metrics: $(grep hygiene_check "$workdir/metrics-forbidden.txt")"
    grep -q '^meshprobe_hygiene_check_success{check="webhook_ca_bundle_missing"} 1$' "$workdir/metrics-forbidden.txt" \
      || fail "the caBundle check stopped with the namespaces: $(grep hygiene_check "$workdir/metrics-forbidden.txt")"
    status | jq -e '.kubernetes.hygiene_notes[0].check == "injection_label_unmatched"' >/dev/null \
      || fail "status: $(status | jq .kubernetes)"
    grep -q '^meshprobe_endpoint_ready{target="istiod-webhook-pods",.*address="127.0.0.1"} 1$' "$workdir/metrics.txt" \
      || fail "metrics: $(grep endpoint_ready "$workdir/metrics.txt")"
    grep -q 'vantage="apiserver"' "$workdir/metrics.txt" || fail "no apiserver vantage series"
    if command -v promtool >/dev/null; then
      promtool check metrics <"$workdir/metrics.txt" >"$workdir/promtool.txt" 2>&1 \
        || fail "promtool: $(cat "$workdir/promtool.txt")"
    fi
    grep -q 'event=hygiene_finding' "$workdir/agent.log" || fail "finding not logged"
    kill -TERM "$agent_pid"
    wait "$agent_pid" || fail "agent exit $?"
    agent_pid=""
    ;;
  agent_in_cluster_reads_a_rotated_service_account_token)
    [ "$(id -u)" = 0 ] && command -v unshare >/dev/null || { echo "SKIP: needs root and unshare"; exit 77; }
    AGENT_PORT=$(free_port)
    mkdir -p "$workdir/sa"
    cp "$workdir/api/ca.pem" "$workdir/sa/ca.crt"
    echo meshprobe >"$workdir/sa/namespace"
    echo "$TOKEN" >"$workdir/sa/token"
    cat >"$workdir/agent.yaml" <<YAML
listen: 127.0.0.1:$AGENT_PORT
node_name: node-1
defaults: {interval: 1s, timeout: 500ms}
kubernetes: {refresh: 1s}
ca_bundles:
  injector: {mutating_webhook: istio-sidecar-injector}
targets:
  - name: istiod-webhook-pods
    url: https://istiod.istio-system.svc:443/ready
    discover: endpoints
    ca: injector
YAML
    # The pod's view, in a mount namespace of the agent's own: the service
    # account mounted where the kubelet puts it; nothing changes on the host.
    unshare --mount --propagation private sh -c '
      mount -t tmpfs tmpfs /run &&
      mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
      mount --bind "$1" /run/secrets/kubernetes.io/serviceaccount &&
      KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$2" exec "$3" agent --config "$4"' \
      sh "$workdir/sa" "$API_PORT" "$MESHPROBE" "$workdir/agent.yaml" >"$workdir/agent.log" 2>&1 &
    agent_pid=$!
    URL="http://127.0.0.1:$AGENT_PORT"
    status() { curl -sf "$URL/status"; }
    ok() { status | jq -e '.targets[0].addresses[0].diagnosis == "ok" and .kubernetes.last_refresh_ok' ; }
    eventually 10 ok || fail "status: $(status)"
    status | jq -e '.kubernetes.connection | test("in-cluster service account")' >/dev/null || fail "status: $(status)"
    # The kubelet rotates the token: the old one stops working at once.
    write_state '.token = "rotated-token"'
    echo rotated-token >"$workdir/sa/token.new" && mv "$workdir/sa/token.new" "$workdir/sa/token"
    sleep 2.5
    refreshed_after_rotation() {
      status | jq -e '.kubernetes.last_refresh_ok' && tail -3 "$workdir/requests.log" | grep -q '"auth": "token"'
    }
    eventually 10 refreshed_after_rotation || fail "not refreshed with the new token: $(status) $(tail -3 "$workdir/requests.log")"
    ;;
  *)
    fail "unknown case"
    ;;
esac
