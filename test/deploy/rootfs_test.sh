#!/usr/bin/env bash
# The container image's contents, proven complete without a Docker engine:
# deploy/image/assemble-rootfs.sh builds the tree deploy/Dockerfile copies
# onto `scratch`, and meshprobe runs from it under `env -i chroot` as the
# image's user 65532 — with no file of this machine to fall back on. Each
# case runs in private mount and network namespaces (root only; skipped
# otherwise): the tree is bind-mounted read-only as a container's root,
# /proc and /dev are mounted as a runtime would, and the config directory
# stands in for the ConfigMap.
#
#   rootfs_test.sh SOURCE_DIR MESHPROBE TESTPEER CASE
set -euo pipefail

SOURCE=$1
MESHPROBE=$2
TESTPEER=$3
CASE=$4

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
require_root "needs root (chroot, mount and network namespaces)"
# Re-run inside fresh mount and network namespaces: mounts and listeners
# vanish with the test, and fixed ports cannot collide with anything.
if [ -z "${MESHPROBE_ROOTFS_NS:-}" ]; then
  exec env MESHPROBE_ROOTFS_NS=1 unshare --mount --net "$0" "$@"
fi
mount --make-rprivate /
ip link set lo up

# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
# shellcheck source=../lib/kubeconfig.sh
source "$(dirname "$0")/../lib/kubeconfig.sh"
# The mounts go with the namespace; unmount anyway so rm can run.
cleanup_hook() { umount -R "$workdir/tree" 2>/dev/null || true; }
# Under the working directory (ctest: the build tree), not /tmp: the tree
# runs binaries, and /tmp may be mounted noexec.
WORKDIR_IN=$PWD make_workdir
fail_context() { show_log "$workdir/agent.log" 20 "agent log"; }

CHROOT=$(command -v chroot)
tree="$workdir/tree"
"$SOURCE/deploy/image/assemble-rootfs.sh" --strip "$MESHPROBE" "$tree" >"$workdir/assemble.log" \
  || fail "assemble-rootfs: $(cat "$workdir/assemble.log")"

# The mount points a container runtime provides, then the tree read-only
# with /proc, /dev and the "ConfigMap" (config dir) mounted into it.
mkdir -p "$tree/proc" "$tree/dev" "$workdir/config"
seal_tree() {
  mount --bind "$tree" "$tree"
  mount -o remount,bind,ro "$tree"
  mount -t proc proc "$tree/proc"
  mount --rbind /dev "$tree/dev"
  mount --bind "$workdir/config" "$tree/etc/meshprobe"
  mount -o remount,bind,ro "$tree/etc/meshprobe"
}

# Runs meshprobe inside the tree as the image does: user 65532, no
# environment, no capabilities.
in_image() {
  env -i "$CHROOT" --userspec=65532:65532 "$tree" /usr/local/bin/meshprobe "$@"
}

# A test PKI and TLS peers like istiod: the webhook (https, /ready 200) and
# xDS (ALPN h2 + SETTINGS), with istiod's SAN.
start_peers() {
  "$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
  cp "$workdir/pki/ca.pem" "$workdir/config/root-cert.pem"
  local mode port
  for spec in tls_http:15017 tls_h2:15012; do
    mode=${spec%%:*}
    port=${spec##*:}
    start_ready "$workdir/$mode.out" "$TESTPEER" serve --listen "127.0.0.1:$port" --mode "$mode" \
      --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem"
  done
}

case "$CASE" in
  tree_holds_binary_libraries_and_trust_store)
    # Every library ldd names, the loader, the trust store, the user; and
    # nothing else: no shell, no package manager.
    while read -r library; do
      [ -f "$tree$library" ] || fail "$library is not in the tree"
    done < <(ldd "$MESHPROBE" | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }')
    [ -x "$tree/usr/local/bin/meshprobe" ] || fail "no binary"
    certs=$(grep -c 'BEGIN CERTIFICATE' "$tree/etc/ssl/certs/ca-certificates.crt")
    [ "$certs" -gt 100 ] || fail "the trust store holds $certs certificates"
    [ "$(readlink "$tree/usr/lib/ssl/cert.pem")" = /etc/ssl/certs/ca-certificates.crt ] \
      || fail "OpenSSL's default cert.pem does not point at the trust store"
    grep -qx 'meshprobe:x:65532:65532:meshprobe:/nonexistent:/sbin/nologin' "$tree/etc/passwd" \
      || fail "no passwd entry for 65532"
    for unwanted in bin/sh usr/bin/apt usr/bin/dpkg; do
      [ ! -e "$tree/$unwanted" ] || fail "the tree has /$unwanted"
    done
    unexpected=$(cd "$tree" && find . -type f | { grep -v -E \
      '^\./(usr/local/bin/meshprobe|lib(64)?/.*\.so[.0-9]*|etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt))$' || true; })
    [ -z "$unexpected" ] || fail "unexpected files: $unexpected"
    echo "tree: $(du -sh "$tree" | cut -f1), $(find "$tree" -type f | wc -l) files"
    ;;

  version_runs_as_65532_with_no_environment)
    seal_tree
    out=$(in_image version 2>&1) || fail "meshprobe version: $out"
    [[ "$out" == "meshprobe "* ]] || fail "version printed: $out"
    ;;

  validate_accepts_the_shipped_configs)
    # The ConfigMaps' configs, as the DaemonSets mount them.
    "$TESTPEER" pki "$workdir/pki" >/dev/null
    cp "$workdir/pki/ca.pem" "$workdir/config/root-cert.pem"
    cp "$SOURCE/deploy/kubernetes/base/config.yaml" "$workdir/config/config.yaml"
    cp "$SOURCE/deploy/kubernetes/overlays/control-plane/agent/config.yaml" "$workdir/config/control-plane.yaml"
    seal_tree
    for config in config.yaml control-plane.yaml; do
      out=$(in_image validate "/etc/meshprobe/$config" 2>&1) || fail "validate $config: $out"
    done
    ;;

  check_probes_tls_and_grpc_from_the_tree)
    # TLS, the CA file, HTTP/1.1 and HTTP/2 all work from inside the tree;
    # a closed port is diagnosed, not a crash.
    start_peers
    seal_tree
    out=$(in_image check --ca-file /etc/meshprobe/root-cert.pem --server-name istiod.istio-system.svc \
      --timeout 2s --output json https://127.0.0.1:15017/ready grpc://127.0.0.1:15012 2>&1) \
      || fail "check failed: $out"
    [ "$(jq -r '[.results[].diagnosis] | join(",")' <<<"$out")" = "ok,ok" ] || fail "check: $out"
    rc=0
    out=$(in_image check --timeout 2s --output json tcp://127.0.0.1:1 2>&1) || rc=$?
    [ "$rc" -eq 1 ] || fail "check of a closed port exited $rc: $out"
    [ "$(jq -r '.results[0].diagnosis' <<<"$out")" = tcp_refused ] || fail "closed port: $out"
    ;;

  agent_serves_on_a_read_only_root)
    # The DaemonSet's config (vantage node) pointed at the test peers: the
    # agent reads its config and CA from the mount, writes nothing, and
    # serves /healthz, /readyz and /metrics as user 65532.
    start_peers
    sed -e 's|https://istiod.istio-system.svc:15017/ready|https://127.0.0.1:15017/ready|' \
        -e 's|https://istiod.istio-system.svc:443/ready|https://127.0.0.1:15017/ready|' \
        -e 's|grpc://istiod.istio-system.svc:15012|grpc://127.0.0.1:15012|' \
        -e 's|interval: 10s|interval: 1s|' -e 's|interval: 30s|interval: 1s|' -e 's|timeout: 3s|timeout: 1s|' \
        "$SOURCE/deploy/kubernetes/base/config.yaml" >"$workdir/config/config.yaml"
    seal_tree
    env -i NODE_NAME=node-1 "$CHROOT" --userspec=65532:65532 "$tree" \
      /usr/local/bin/meshprobe agent --config /etc/meshprobe/config.yaml >"$workdir/agent.log" 2>&1 &
    agent=$!
    track_pid "$agent"
    eventually 10 curl -sf http://127.0.0.1:9717/healthz || fail "no /healthz"
    eventually 20 curl -sf http://127.0.0.1:9717/readyz || fail "never ready"
    curl -sf http://127.0.0.1:9717/metrics >"$workdir/metrics.txt"
    for target in istiod-webhook istiod-webhook-service istiod-xds; do
      grep -q "^probe_success{.*target=\"$target\".*} 1" "$workdir/metrics.txt" \
        || fail "$target does not pass: $(grep "^meshprobe_diagnosis{.*$target" "$workdir/metrics.txt")"
    done
    grep -q 'node="node-1"' "$workdir/metrics.txt" || fail "NODE_NAME did not become the node label"
    # env and chroot exec: $agent is meshprobe itself.
    [ "$(stat -c %u "/proc/$agent")" = 65532 ] || fail "the agent does not run as 65532"
    echo "agent RSS: $(awk '/VmRSS/ { print $2, $3 }' "/proc/$agent/status")"
    kill -TERM "$agent"
    wait "$agent" || fail "the agent exited $? on SIGTERM"
    ;;

  kubernetes_mode_reaches_the_api_from_the_tree)
    # Kubernetes mode's client (libcurl and the libraries it brings) works
    # from the tree: `check --kubeconfig` against the emulated API server
    # (test/integration/kube/fake_apiserver.py), authenticated with a token,
    # the hygiene checks run.
    "$TESTPEER" pki "$workdir/api" --san 127.0.0.1 >/dev/null
    jq -n '{token: "deploy-test-token", mutatingwebhookconfigurations: [],
            validatingwebhookconfigurations: [], namespaces: [], services: [],
            endpointslices: [], configmaps: [], pods: []}' >"$workdir/state.json"
    start_fake_apiserver --log "$workdir/requests.log"
    write_token_kubeconfig "$workdir/config/kubeconfig" "https://127.0.0.1:$API_PORT" "$workdir/api/ca.pem" \
      deploy-test-token
    seal_tree
    rc=0
    # stderr apart: it notes the admission probes left out (no canary namespace).
    out=$(in_image check --kubeconfig /etc/meshprobe/kubeconfig --timeout 2s --output json \
      2>"$workdir/check.err") || rc=$?
    [ "$rc" -le 1 ] || fail "check --kubeconfig exited $rc: $out $(cat "$workdir/check.err")"
    jq -e '(.hygiene | type) == "array" and (has("hygiene_error") | not)' <<<"$out" >/dev/null \
      || fail "the hygiene checks did not run: $out"
    grep -q '"auth": "token"' "$workdir/requests.log" || fail "no authenticated API request"
    echo "check --kubeconfig: exit $rc, $(jq -c "[.results[] | {name, diagnosis}]" <<<"$out")"
    ;;

  without_libcurl_only_kubernetes_mode_is_refused)
    # libcurl is loaded only when Kubernetes mode starts: without it the
    # probes still run, and Kubernetes mode says what is missing.
    find "$tree" -name "libcurl.so.*" -delete
    start_peers
    seal_tree
    out=$(in_image check --ca-file /etc/meshprobe/root-cert.pem --server-name istiod.istio-system.svc \
      --timeout 2s --output json https://127.0.0.1:15017/ready 2>&1) || fail "check without libcurl: $out"
    [ "$(jq -r '.results[0].diagnosis' <<<"$out")" = ok ] || fail "probe without libcurl: $out"
    cat >"$workdir/config/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: test
clusters: [{name: test, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: test, context: {cluster: test, user: meshprobe}}]
users: [{name: meshprobe, user: {token: unused}}]
YAML
    rc=0
    out=$(in_image check --kubeconfig /etc/meshprobe/kubeconfig --output json 2>&1) || rc=$?
    [ "$rc" -eq 2 ] || fail "check --kubeconfig without libcurl exited $rc: $out"
    grep -q 'Kubernetes mode needs libcurl.so.4' <<<"$out" || fail "no reason given: $out"
    echo "without libcurl: $(grep -o 'Kubernetes mode needs[^"]*' <<<"$out" | head -1)"
    ;;

  a_missing_library_is_detected)
    # The proof has teeth: without one of its libraries the binary cannot
    # start from the tree (nothing of this machine leaks in).
    rm "$tree"/lib/x86_64-linux-gnu/libyaml-cpp.so.*
    seal_tree
    if out=$(in_image version 2>&1); then
      fail "meshprobe started without libyaml-cpp: $out"
    fi
    grep -q 'libyaml-cpp' <<<"$out" || fail "unexpected failure: $out"
    ;;

  *)
    fail "unknown case"
    ;;
esac
echo "ok [$CASE]"
