#!/usr/bin/env bash
# The bastion deliverables: the portable bundle (deploy/bastion/make-bundle.sh)
# and the systemd unit (deploy/bastion/meshprobe.service).
#
#   bastion_test.sh SOURCE_DIR MESHPROBE TESTPEER CASE
set -euo pipefail

SOURCE=$1
MESHPROBE=$2
TESTPEER=$3
CASE=$4

# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/peers.sh
source "$(dirname "$0")/../lib/peers.sh"
# Under the working directory (ctest: the build tree), not /tmp: the tree
# runs binaries, and /tmp may be mounted noexec.
WORKDIR_IN=$PWD make_workdir
fail_context() { show_log "$workdir/agent.log" 20 "agent log"; }

unpack_bundle() {
  "$SOURCE/deploy/bastion/make-bundle.sh" "$MESHPROBE" "$workdir/meshprobe.tar.gz" >"$workdir/make.log" \
    || fail "make-bundle: $(cat "$workdir/make.log")"
  mkdir "$workdir/opt"
  tar -C "$workdir/opt" -xzf "$workdir/meshprobe.tar.gz"
  bundle="$workdir/opt/meshprobe"
  [ -x "$bundle/bin/meshprobe" ] || fail "no bin/meshprobe in the bundle"
}

case "$CASE" in
  bundle_runs_on_its_own_loader_and_libraries)
    unpack_bundle
    # From elsewhere, with no environment, through a symlink as on PATH.
    ln -s "$bundle/bin/meshprobe" "$workdir/meshprobe-link"
    out=$(cd / && env -i "$workdir/meshprobe-link" version 2>&1) || fail "version: $out"
    [[ "$out" == "meshprobe "* ]] || fail "version printed: $out"

    # TLS with a CA file, and the agent: every library it maps is the
    # bundle's, none of this machine's.
    "$TESTPEER" pki "$workdir/pki" --san istiod.istio-system.svc >/dev/null
    peer_port=$(serve --mode tls_http --cert "$workdir/pki/leaf.pem" --key "$workdir/pki/leaf-key.pem")
    out=$(env -i "$bundle/bin/meshprobe" check --ca-file "$workdir/pki/ca.pem" \
      --server-name istiod.istio-system.svc "https://127.0.0.1:$peer_port/ready" 2>&1) \
      || fail "check with the CA file: $out"
    # Without a CA file the bundled system store is used: loaded, and it
    # does not trust the test CA.
    rc=0
    out=$(env -i "$bundle/bin/meshprobe" check --output json \
      --server-name istiod.istio-system.svc "https://127.0.0.1:$peer_port/ready" 2>&1) || rc=$?
    if [ "$rc" -ne 1 ] || [ "$(jq -r '.results[0].diagnosis' <<<"$out")" != tls_unknown_authority ]; then
      fail "check against the system store: $out"
    fi

    agent_port=$(free_port)
    cat >"$workdir/config.yaml" <<YAML
listen: 127.0.0.1:$agent_port
vantage: control-plane
node_name: bastion-test
defaults: {interval: 1s, timeout: 900ms}
ca_bundles:
  istio-root: {file: $workdir/pki/ca.pem}
targets:
  - name: istiod-pod-1-webhook
    url: https://127.0.0.1:$peer_port/ready
    ca: istio-root
    server_name: istiod.istio-system.svc
YAML
    env -i "$bundle/bin/meshprobe" agent --config "$workdir/config.yaml" >"$workdir/agent.log" 2>&1 &
    agent=$!  # the launcher execs: this is the agent
    track_pid "$agent"
    eventually 10 curl -sf "http://127.0.0.1:$agent_port/readyz" || fail "agent never ready"
    passing() {
      curl -sf "http://127.0.0.1:$agent_port/metrics" >"$workdir/metrics.txt" &&
        grep -q '^probe_success{.*} 1' "$workdir/metrics.txt"
    }
    eventually 10 passing || fail "the agent's probe does not pass: $(grep diagnosis "$workdir/metrics.txt")"
    mapped=$(awk '$6 ~ /\.so/ { print $6 }' "/proc/$agent/maps" | sort -u)
    [ -n "$mapped" ] || fail "no libraries mapped"
    outside=$(grep -v "^$bundle/" <<<"$mapped" || true)
    [ -z "$outside" ] || fail "libraries from outside the bundle: $outside"
    echo "bundle: $(du -h "$workdir/meshprobe.tar.gz" | cut -f1), $(wc -l <<<"$mapped") libraries mapped"
    ;;

  systemd_unit_verifies_and_is_hardened)
    command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed"; exit 77; }
    unit="$SOURCE/deploy/bastion/meshprobe.service"
    grep -q '^ExecStart=/usr/local/bin/meshprobe agent --config /etc/meshprobe/config.yaml$' "$unit" \
      || fail "ExecStart does not run the agent on /etc/meshprobe/config.yaml"
    # verify wants the executables to exist: point the copy at the built binary.
    mkdir "$workdir/unit"
    sed "s|/usr/local/bin/meshprobe|$MESHPROBE|g" "$unit" >"$workdir/unit/meshprobe.service"
    systemd-analyze verify "$workdir/unit/meshprobe.service" >"$workdir/verify.log" 2>&1 \
      || fail "systemd-analyze verify: $(cat "$workdir/verify.log")"
    # Unknown keys and other complaints are only warnings: none allowed.
    [ ! -s "$workdir/verify.log" ] || fail "systemd-analyze verify: $(cat "$workdir/verify.log")"
    # Exposure 0 (locked down) to 10 (root, everything): at most 2.0, "OK".
    systemd-analyze security --offline=true --threshold=20 "$workdir/unit/meshprobe.service" \
      >"$workdir/security.log" 2>&1 || fail "systemd-analyze security: $(tail -3 "$workdir/security.log")"
    grep 'Overall exposure' "$workdir/security.log"
    # The config the unit's header installs, the control-plane example,
    # validates (its CA path pointed at a stand-in certificate).
    cp /etc/ssl/certs/ca-certificates.crt "$workdir/root-cert.pem"
    sed "s|/etc/meshprobe/|$workdir/|g" "$SOURCE/config/examples/control-plane.yaml" >"$workdir/config.yaml"
    out=$("$MESHPROBE" validate "$workdir/config.yaml" 2>&1) || fail "control-plane.yaml: $out"
    grep -q 'config/examples/control-plane.yaml /etc/meshprobe/config.yaml' "$unit" \
      || fail "the unit's header no longer installs config/examples/control-plane.yaml"
    ;;

  *)
    fail "unknown case"
    ;;
esac
echo "ok [$CASE]"
