#!/usr/bin/env bash
# The private-cluster lab: a small Kubernetes-shaped network inside this
# machine, built from network namespaces, veth pairs, a bridge and nftables,
# in which every row of the Cloud Service Mesh guide's webhook error table can
# be switched on and watched from two vantage points.
#
#   control-plane network 198.51.100.0/24          node network 192.0.2.0/24
#
#   +--------------+                              +--------------------------+
#   | mplab-cp     | .10                     .10  | mplab-node               |
#   | the API      |------+              +--------| a node: the DaemonSet's  |
#   | server's     |      |              |        | vantage; kube-proxy's    |
#   | network      |      |              |        | Service rules (nftables) |
#   | (`apiserver`:|      |              |        +--------------------------+
#   |  emulated on |      |              |
#   |  .10:443)    |      |              |
#   +--------------+      |              |
#                      .1 |              | .1      +-------------------------+
#                  +------+--------------+----+ .20 | mplab-istiod            |
#                  | mplab-fw   router +      |-----| istiod's pod:           |
#                  | the private cluster's    |     |  15017 webhook (Go TLS: |
#                  | firewall (forward chain) |     |   HTTP/1.1 and h2)      |
#                  | bridge br-nodes          |     |  15012 xDS (h2 only)    |
#                  +--------------------------+     |  NetworkPolicy (input)  |
#                                              |     +-------------------------+
#                                              | .53 +-------------------------+
#                                              +-----| mplab-dns  cluster DNS  |
#                                                    +-------------------------+
#
#   Services (ClusterIPs in 203.0.113.0/24, only real inside kube-proxy's rules):
#     istiod.istio-system.svc             203.0.113.10   443 -> pod:15017, 15012 -> pod:15012
#     istiod-asm-1122-0.istio-system.svc  203.0.113.11   the same ports (the revision's Service)
#
# The firewall behaves like a private GKE cluster's: the control plane may
# reach the nodes on 443 and 10250 only, everything else is dropped silently.
# The healthy lab has the extra rule the guide asks for (15017 from the
# control plane). On a private cluster the API server calls the webhook on
# the pod IP and port 15017, not the Service VIP: the control-plane vantage
# does the same. The node vantage uses the Service names (VIPs) and the pod IP.
#
# The API server itself: no Kubernetes API server can run here, so `lab.sh
# apiserver` starts the emulated one (test/integration/kube/fake_apiserver.py)
# inside the control-plane network, on 198.51.100.10:443 - the private
# cluster's endpoint, which kubectl (and meshprobe) on the nodes reach - with
# a cluster describing the lab: the Service istiod and its EndpointSlice (the
# pod IP, 15017), the webhook configurations (caBundle = the lab's webhook
# caBundle, timeoutSeconds LAB_ADMISSION_TIMEOUT_SECONDS), the ConfigMap
# istio-ca-root-cert and the canary namespace meshprobe-canary
# (istio-injection=enabled). Its admission chain calls istiod with Go's
# net/http from the control-plane network, so the firewall acts on that call
# as it acts on the real API server's. While it runs, istiod's 15017 is Go's
# webhook server as a whole (meshprobe-gopeer webhook-serve: /inject
# injects, /validate denies the probe's invalid Gateway, /ready; --mode hang
# when istiod hangs), not the test peer's answers by path.
#
# Usage (as root):
#   lab.sh up                   build the lab (healthy) and start its servers
#   lab.sh down                 remove everything the lab made; safe to repeat
#   lab.sh scenario NAME        switch to a scenario and check it from both vantages
#                               against the expected diagnoses (exit 1 on a mismatch)
#   lab.sh apply NAME           switch to a scenario only
#   lab.sh scenarios            list the scenarios
#   lab.sh check VANTAGE        probe the vantage's targets once and print the results
#   lab.sh agent VANTAGE        start `meshprobe agent` in the vantage (background)
#   lab.sh curl VANTAGE PATH    GET PATH from that vantage's agent (/status, /metrics, /)
#   lab.sh page VANTAGE [PORT]  show that agent's pages on this machine's
#                               http://127.0.0.1:PORT/ (default 9718) until Ctrl-C
#   lab.sh exec VANTAGE CMD...  run a command inside the vantage's namespace
#   lab.sh apiserver            start the emulated API server in the control-plane
#                               network (198.51.100.10:443) and Go's webhook server on 15017
#   lab.sh admission            `meshprobe check --kubeconfig` from the node: the
#                               admission probes and one verdict per webhook (needs apiserver)
#   lab.sh status               what runs, which scenario, the firewall and kube-proxy rules
# VANTAGE is `node` or `cp` (the control-plane network).
#
# Environment:
#   MESHPROBE      the meshprobe binary      (default: build/agent/meshprobe)
#   TESTPEER       the test peer binary      (default: build/test/support/meshprobe-testpeer)
#   GOPEER         the Go peer binary (`apiserver`: the admission chain's webhook client and
#                  istiod's webhook server) (default: build/test/support/gopeer/meshprobe-gopeer)
#   LAB_ADMISSION_TIMEOUT_SECONDS  the webhooks' timeoutSeconds in the emulated cluster (default 2)
#   LAB_STATE_DIR  pids, logs, PKI, bundles  (default: /run/meshprobe-lab)
#   LAB_LOCK_FILE  host-wide lock            (default: /run/lock/meshprobe-lab.lock)
#   LAB_CHECK_TIMEOUT           per-probe timeout of `check` and `scenario` (default 2s)
#   LAB_AGENT_INTERVAL, LAB_AGENT_TIMEOUT   the agent's schedule (default 2s, 1s)
#
# Exit code 77 means "cannot run here" (not root, a tool is missing, or a lab
# test from another checkout or build tree holds the lab): the tests built on
# this script report it as skipped.
#
# The lab's names are fixed, so only one lab can exist on a machine. Every
# command that changes it takes the lock LAB_LOCK_FILE while it runs, and a
# test holds it from its `up` to its `down`: a second test run (another build
# tree's ctest) waits for it instead of tearing down a lab in use.
#
# This file can also be sourced (tests do): it then only defines functions.

set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/kubeconfig.sh
source "$LAB_DIR/../lib/kubeconfig.sh"
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
MESHPROBE=${MESHPROBE:-$REPO_DIR/build/agent/meshprobe}
TESTPEER=${TESTPEER:-$REPO_DIR/build/test/support/meshprobe-testpeer}
GOPEER=${GOPEER:-$REPO_DIR/build/test/support/gopeer/meshprobe-gopeer}
FAKE_APISERVER=$REPO_DIR/test/integration/kube/fake_apiserver.py
STATE=${LAB_STATE_DIR:-/run/meshprobe-lab}
LAB_LOCK=${LAB_LOCK_FILE:-/run/lock/meshprobe-lab.lock}
CHECK_TIMEOUT=${LAB_CHECK_TIMEOUT:-2s}
AGENT_INTERVAL=${LAB_AGENT_INTERVAL:-2s}
AGENT_TIMEOUT=${LAB_AGENT_TIMEOUT:-1s}
ADMISSION_TIMEOUT_SECONDS=${LAB_ADMISSION_TIMEOUT_SECONDS:-2}

# --- names and addresses --------------------------------------------------
# Fixed names with one prefix, so `down` can always find what to remove.
NS_CP=mplab-cp          # the control-plane network (where the API server dials from)
NS_FW=mplab-fw          # router + firewall between the two networks, and the nodes' bridge
NS_NODE=mplab-node      # a node: DaemonSet vantage, kube-proxy
NS_ISTIOD=mplab-istiod  # istiod's pod
NS_DNS=mplab-dns        # the cluster resolver (kube-dns)
LAB_NAMESPACES=("$NS_CP" "$NS_NODE" "$NS_ISTIOD" "$NS_DNS" "$NS_FW")
# Every process the lab starts carries this variable, so leftovers can be
# found by pid even if a namespace were already gone.
LAB_MARK=MESHPROBE_LAB_PROCESS

CP_NET=198.51.100.0/24
CP_GW=198.51.100.1
CP_IP=198.51.100.10
NODE_NET=192.0.2.0/24
NODE_GW=192.0.2.1
NODE_IP=192.0.2.10
POD_IP=192.0.2.20
DNS_IP=192.0.2.53

REVISION=asm-1122-0
SVC=istiod.istio-system.svc                  # the Service `istiod`
SVC_REV=istiod-$REVISION.istio-system.svc    # the revision's Service, as ASM's webhooks call it
SVC_OLD_REV="istiod-asm-1121-3.istio-system.svc"  # a revision that is not installed (any more)
VIP=203.0.113.10
VIP_REV=203.0.113.11
WEBHOOK_PORT=15017
XDS_PORT=15012

# The emulated API server (`lab.sh apiserver`): the private cluster's endpoint.
API_IP=$CP_IP
API_PORT=443
API_TOKEN=meshprobe-lab-token
CANARY_NAMESPACE=meshprobe-canary
ISTIOD_POD="istiod-5f8d7c-lab01"  # the pod behind the EndpointSlice

# The lab's two CA bundles, as a cluster holds them:
#   caBundle  - the webhook configurations' caBundle: what the API server trusts
#               when it calls istiod (the seed's "x509: certificate signed by
#               unknown authority" is about this one);
#   root      - the ConfigMap istio-ca-root-cert: what sidecars trust on 15012.
BUNDLE_CABUNDLE=$STATE/bundles/webhook-ca-bundle.pem
BUNDLE_ROOT=$STATE/bundles/root-cert.pem

# --- the targets each vantage probes ----------------------------------------
# vantage|label|url|bundle (caBundle, root, or empty for tcp://)|server name (empty: the URL's
# host)|expect (empty: the path must work; `blocked`: a negative test, the path must stay
# closed)|what it stands for
# @DISCOVERY@ is the sidecars' discovery address (meshConfig
# defaultConfig.discoveryAddress), which a scenario can change.
TARGETS=(
  "node|webhook-rev-svc|https://$SVC_REV:443/ready|caBundle|||the revision's webhook through its Service, trusting the webhook caBundle"
  "node|webhook-svc|https://$SVC:443/ready|root|||the webhook through the Service istiod (VIP 443 -> 15017)"
  "node|webhook-pod|https://$POD_IP:$WEBHOOK_PORT/ready|root|$SVC||the webhook on the pod IP"
  "node|xds-discovery|grpc://@DISCOVERY@|root|||xDS at the sidecars' discovery address"
  "node|xds-svc|grpc://$SVC:$XDS_PORT|root|||xDS through the Service istiod"
  "node|xds-pod|grpc://$POD_IP:$XDS_PORT|root|$SVC||xDS on the pod IP"
  "cp|webhook-pod|https://$POD_IP:$WEBHOOK_PORT/ready|caBundle|$SVC_REV||the API server's webhook call on a private cluster: pod IP, 15017, caBundle"
  "cp|webhook-pod-root|https://$POD_IP:$WEBHOOK_PORT/ready|root|$SVC||the same call trusting the mesh root"
  "cp|xds-pod-closed|tcp://$POD_IP:$XDS_PORT|||blocked|a path the firewall must keep closed: the control plane has no business on xDS (only 443, 10250 and 15017 are open)"
)
DISCOVERY_CURRENT=$SVC_REV:$XDS_PORT
DISCOVERY_OLD=$SVC_OLD_REV:$XDS_PORT
DISCOVERY_WEBHOOK=$SVC_REV:443  # the Service's 443, which kube-proxy maps to the webhook's 15017

# The targets with the current discovery address filled in, one per line.
lab_targets() {
  local discovery=$DISCOVERY_CURRENT entry
  [ -f "$STATE/discovery-address" ] && discovery=$(cat "$STATE/discovery-address")
  for entry in "${TARGETS[@]}"; do echo "${entry//@DISCOVERY@/$discovery}"; done
}

# --- scenarios ---------------------------------------------------------------
# name|the symptom users see (quoted from the guide's error table where it has
# a row)|what the lab changes
SCENARIOS=(
  "healthy|-|nothing: the firewall lets the control plane reach 15017, istiod is ready, names resolve"
  "firewall|context deadline exceeded|the private cluster's default firewall: control plane -> nodes on 443 and 10250 only"
  "no-endpoints|no endpoints available for service \"istiod\"|istiod is not running (its pod keeps the IP); kube-proxy rejects the Service VIPs"
  "service-missing|Service \"istiod\" not found|the Service istiod is deleted: no DNS name, no kube-proxy rules (the revision's Service stays)"
  "stale-ca-bundle|x509: certificate signed by unknown authority|the webhook caBundle holds another CA; the mesh root is unchanged"
  "no-healthy-upstream|gRPC config stream closed, no healthy upstream|the sidecars' discovery address names revision asm-1121-3, which is not installed"
  "xds-unreachable|sidecars get no config: gRPC config stream closed (upstream connect timeout)|a NetworkPolicy on istiod's node admits the webhook port only: 15012 is dropped"
  "webhook-hung|Client.Timeout exceeded while awaiting headers|istiod's webhook handler reads requests and never answers"
  "cert-expired|x509: certificate has expired or is not yet valid (not in the guide's table)|istiod serves an expired certificate (same CA, same names) on both ports"
  "firewall-wide-open|- (nothing fails: a path that must stay closed opens)|a firewall rule lets the control plane reach every port of the nodes"
  "discovery-on-webhook-port|code = Unimplemented desc = Not Found: HTTP status code 404; transport: received the unexpected content-type \"text/plain; charset=utf-8\"|the sidecars' discovery address names the revision's Service on 443, which leads to the webhook port 15017 (Go net/http with HTTP/2), not xDS"
)

# Expected diagnoses per scenario: lines "VANTAGE LABEL DIAGNOSIS [MESSAGE FRAGMENT]".
# Targets a scenario does not name are expected `ok`.
expectations() {
  case "$1" in
    healthy) ;;
    firewall)
      echo "cp webhook-pod tcp_timeout"
      echo "cp webhook-pod-root tcp_timeout" ;;
    no-endpoints)
      # kube-proxy's REJECT answers with ICMP port-unreachable from the node
      # itself; the pod without a listener answers with a TCP reset.
      echo "node webhook-rev-svc tcp_refused port-unreachable"
      echo "node webhook-svc tcp_refused port-unreachable"
      echo "node webhook-pod tcp_refused TCP reset"
      echo "node xds-discovery tcp_refused port-unreachable"
      echo "node xds-svc tcp_refused port-unreachable"
      echo "node xds-pod tcp_refused TCP reset"
      echo "cp webhook-pod tcp_refused TCP reset"
      echo "cp webhook-pod-root tcp_refused TCP reset" ;;
    service-missing)
      echo "node webhook-svc dns_not_found"
      echo "node xds-svc dns_not_found" ;;
    stale-ca-bundle)
      echo "node webhook-rev-svc tls_unknown_authority"
      echo "cp webhook-pod tls_unknown_authority" ;;
    no-healthy-upstream)
      # Only the address is wrong: istiod's xDS answers on its real names.
      echo "node xds-discovery dns_not_found $SVC_OLD_REV"
      # `check --kubeconfig` reads the address from the emulated mesh config
      # (mesh_config_checks) and finds the Service it names missing.
      echo "node xds-mesh-config dns_not_found ${SVC_OLD_REV%%.*}"
      echo "node discovery-hygiene discovery_address_stale ${SVC_OLD_REV%%.*}" ;;
    xds-unreachable)
      echo "node xds-discovery tcp_timeout"
      echo "node xds-svc tcp_timeout"
      echo "node xds-pod tcp_timeout" ;;
    webhook-hung)
      echo "node webhook-rev-svc http_timeout"
      echo "node webhook-svc http_timeout"
      echo "node webhook-pod http_timeout"
      echo "cp webhook-pod http_timeout"
      echo "cp webhook-pod-root http_timeout" ;;
    discovery-on-webhook-port)
      # HTTP/2 and SETTINGS, then Go's 404: not gRPC, never ok.
      echo "node xds-discovery grpc_not_grpc HTTP status 404" ;;
    cert-expired)
      # Every TLS target; a negative test stays blocked whatever istiod serves.
      local vantage label url bundle server expect
      while IFS='|' read -r vantage label url bundle server expect _; do
        [ -z "$expect" ] && echo "$vantage $label tls_expired"
      done < <(lab_targets) ;;
    firewall-wide-open)
      # The regression the other way round: the path meant to stay closed opens.
      echo "cp xds-pod-closed unexpectedly_reachable" ;;
    *) die "unknown scenario: $1 (lab.sh scenarios lists them)" ;;
  esac
  # Test hook: extra (possibly deliberately wrong) expectation lines, used to
  # prove that a failing assertion still leaves nothing behind.
  if [ -n "${LAB_EXTRA_EXPECTATIONS:-}" ]; then printf '%s\n' "$LAB_EXTRA_EXPECTATIONS"; fi
}

# The lab's moving parts and the state each scenario puts them in.
#   firewall:   webhook-open | private-default | allow-all   (router between the networks)
#   kubeproxy:  endpoints | no-endpoints | no-istiod-service   (on the node)
#   dns:        all | istiod-missing                 (cluster DNS)
#   istiod:     serving | stopped | hung | expired   (istiod's two ports)
#   netpol:     open | webhook-only                  (NetworkPolicy on istiod's node)
#   cabundle:   current | stale                      (webhook configurations' caBundle)
#   discovery:  current | old-revision | webhook-port  (sidecars' discovery address)
scenario_state() {
  local firewall=webhook-open kubeproxy=endpoints dns=all istiod=serving netpol=open
  local cabundle=current discovery=current
  case "$1" in
    healthy) ;;
    firewall) firewall=private-default ;;
    firewall-wide-open) firewall=allow-all ;;
    no-endpoints) istiod=stopped kubeproxy=no-endpoints ;;
    service-missing) dns=istiod-missing kubeproxy=no-istiod-service ;;
    stale-ca-bundle) cabundle=stale ;;
    no-healthy-upstream) discovery=old-revision ;;
    xds-unreachable) netpol=webhook-only ;;
    webhook-hung) istiod=hung ;;
    cert-expired) istiod=expired ;;
    discovery-on-webhook-port) discovery=webhook-port ;;
    *) die "unknown scenario: $1 (lab.sh scenarios lists them)" ;;
  esac
  echo "$firewall $kubeproxy $dns $istiod $netpol $cabundle $discovery"
}

# --- helpers -----------------------------------------------------------------
die() { echo "lab: $*" >&2; exit 1; }
log() { echo "lab: $*"; }

# Exits 77 ("skipped") when the lab cannot run on this machine.
require_lab_host() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the lab needs root (network namespaces, nftables); run it as root or under sudo"
    exit 77
  fi
  local tool
  for tool in ip nft jq curl setsid; do
    command -v "$tool" >/dev/null || { echo "SKIP: missing tool $tool (run .ci/install-deps)"; exit 77; }
  done
  [ -x "$MESHPROBE" ] || { echo "SKIP: no meshprobe at $MESHPROBE (build it, or set MESHPROBE)"; exit 77; }
  [ -x "$TESTPEER" ] || { echo "SKIP: no test peer at $TESTPEER (build it, or set TESTPEER)"; exit 77; }
}

# Takes the host-wide lab lock (file descriptor 9) for the rest of this
# process, waiting up to $1 seconds; exits 77 when another run keeps it.
# Processes below a holder (LAB_LOCK_HELD=1) share the holder's lock.
acquire_lab_lock() {
  local wait=${1:-0} what=${2:-lab.sh}
  [ "${LAB_LOCK_HELD:-0}" = 1 ] && return 0
  mkdir -p "$(dirname "$LAB_LOCK")"
  exec 9>>"$LAB_LOCK"
  if ! flock -w "$wait" 9; then
    echo "SKIP: the lab is in use by another run ($(cat "$LAB_LOCK" 2>/dev/null || echo unknown)); lock $LAB_LOCK"
    exit 77
  fi
  echo "pid $$: $what" >"$LAB_LOCK"
  export LAB_LOCK_HELD=1
}

require_up() {
  if [ ! -f "$STATE/up" ] || ! ip netns list | grep -qw "$NS_ISTIOD"; then
    die "the lab is not up (lab.sh up)"
  fi
}

vantage_ns() {
  case "$1" in
    node) echo "$NS_NODE" ;;
    cp|control-plane) echo "$NS_CP" ;;
    *) die "unknown vantage: $1 (node or cp)" ;;
  esac
}
vantage_label() { case "$1" in cp|control-plane) echo control-plane ;; *) echo "$1" ;; esac; }
vantage_key() { case "$1" in control-plane) echo cp ;; *) echo "$1" ;; esac; }

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
nft_in() { ip netns exec "$1" nft -f -; }

# Starts a long-running lab process NAME in namespace NS, detached from this
# shell (its own session, output to a log), marked with LAB_MARK, and records
# its pid. With WAIT_READY (the default) waits for a line matching
# READY_PATTERN in its output (default: the test peer's "ready").
start_process() {
  local name=$1 ns=$2
  shift 2
  local out=$STATE/logs/$name.log
  : >"$out"
  # 9>&-: a lab process must not inherit (and so keep) the lab lock.
  setsid ip netns exec "$ns" env -u LAB_LOCK_HELD "$LAB_MARK=1" "$@" </dev/null >"$out" 2>&1 9>&- &
  echo $! >"$STATE/pids/$name.pid"
  printf '%s\n' "$*" >"$STATE/pids/$name.args"
  if [ "${WAIT_READY:-1}" = 1 ]; then
    local _
    for _ in $(seq 1 100); do
      grep -q "${READY_PATTERN:-^ready}" "$out" && return 0
      alive "$(cat "$STATE/pids/$name.pid")" || break
      sleep 0.05
    done
    die "$name did not start: $(cat "$out")"
  fi
}

# Stops a process started by start_process and waits until it is gone.
stop_process() {
  local name=$1 pid
  [ -f "$STATE/pids/$name.pid" ] || return 0
  pid=$(cat "$STATE/pids/$name.pid")
  rm -f "$STATE/pids/$name.pid" "$STATE/pids/$name.args"
  kill_and_wait "$pid"
}

# True while PID runs. A zombie counts as gone: lab processes are detached,
# so their parent is init, which reaps them in its own time.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# SIGTERM, up to 2 s to exit, then SIGKILL.
kill_and_wait() {
  local pid _ any
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    any=0
    for pid in "$@"; do alive "$pid" && any=1; done
    [ "$any" = 0 ] && return 0
    sleep 0.05
  done
  for pid in "$@"; do
    if alive "$pid"; then
      echo "lab: pid $pid ignored SIGTERM for 2 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# (Re)starts NAME only when it is not running with exactly these arguments.
ensure_process() {
  local name=$1 ns=$2
  shift 2
  if [ -f "$STATE/pids/$name.pid" ] && alive "$(cat "$STATE/pids/$name.pid")" \
     && [ "$(cat "$STATE/pids/$name.args")" = "$*" ]; then
    return 0
  fi
  stop_process "$name"
  start_process "$name" "$ns" "$@"
}

# Pids of every process the lab started: recorded, in a lab namespace, or marked.
lab_pids() {
  local ns file pid
  {
    for file in "$STATE"/pids/*.pid; do [ -f "$file" ] && cat "$file"; done
    for ns in "${LAB_NAMESPACES[@]}"; do ip netns pids "$ns" 2>/dev/null || true; done
    grep -lszxF "$LAB_MARK=1" /proc/[0-9]*/environ | sed 's|^/proc/||; s|/environ$||' || true
  } | sort -un | while read -r pid; do
    if alive "$pid"; then echo "$pid"; fi
  done
}

# What the lab would leave behind; empty when it is all gone.
leftovers() {
  local ns pids
  for ns in $(ip netns list | awk '{print $1}'); do
    case "$ns" in mplab-*) echo "namespace $ns" ;; esac
  done
  for ns in /etc/netns/mplab-*; do [ -e "$ns" ] && echo "resolver config $ns"; done
  [ -e "$STATE" ] && echo "state directory $STATE"
  pids=$(lab_pids | tr '\n' ' ')
  [ -n "$pids" ] && echo "processes $pids"
  return 0
}

# --- the network -------------------------------------------------------------
build_network() {
  local ns
  for ns in "${LAB_NAMESPACES[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Prompt ICMP errors (kube-proxy's REJECT, a closed port): the default rate
    # limit would hold an error back by about a second after a burst of six.
    in_ns "$ns" sysctl -q -w net.ipv4.icmp_ratelimit=0
    # IPv4 only: keeps router solicitations and DAD out of the picture.
    in_ns "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done

  # The router between the two networks; the nodes' network is a bridge in it.
  in_ns "$NS_FW" sysctl -q -w net.ipv4.ip_forward=1
  ip -n "$NS_FW" link add br-nodes type bridge forward_delay 0
  ip -n "$NS_FW" addr add "$NODE_GW/24" dev br-nodes
  ip -n "$NS_FW" link set br-nodes up

  # Every host gets one interface, eth0, whose other end is in the router
  # namespace (created there directly: nothing appears in this machine's own
  # namespace).
  local host ip port
  for host in "$NS_NODE:$NODE_IP:node" "$NS_ISTIOD:$POD_IP:istiod" "$NS_DNS:$DNS_IP:dns"; do
    IFS=: read -r ns ip port <<<"$host"
    ip link add eth0 netns "$ns" type veth peer name "$port" netns "$NS_FW"
    ip -n "$NS_FW" link set "$port" master br-nodes up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$NODE_GW"
  done

  # The control-plane network: one host behind a point-to-point link.
  ip link add eth0 netns "$NS_CP" type veth peer name cp netns "$NS_FW"
  ip -n "$NS_FW" addr add "$CP_GW/24" dev cp
  ip -n "$NS_FW" link set cp up
  ip -n "$NS_CP" addr add "$CP_IP/24" dev eth0
  ip -n "$NS_CP" link set eth0 up
  ip -n "$NS_CP" route add default via "$CP_GW"

  # Resolvers: the node uses the cluster DNS; the control-plane network has
  # none (the API server finds Services through its own store, and dials pod
  # IPs). 127.0.0.1 there fails at once instead of asking this machine's.
  mkdir -p "/etc/netns/$NS_NODE" "/etc/netns/$NS_CP"
  printf '# written by test/lab/lab.sh\nnameserver %s\noptions timeout:1 attempts:1\n' "$DNS_IP" \
    >"/etc/netns/$NS_NODE/resolv.conf"
  printf '# written by test/lab/lab.sh: no cluster DNS in the control-plane network\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
    >"/etc/netns/$NS_CP/resolv.conf"
}

# The firewall between the control-plane network and the nodes, in the
# router's forward chain. GCP's VPC firewall drops silently: no ICMP, no reset.
set_firewall() {
  local webhook_rule=""
  case "$1" in
    webhook-open)
      webhook_rule="tcp dport $WEBHOOK_PORT accept comment \"allow-istiod-webhook: the rule the guide asks for\"" ;;
    private-default) ;;
    allow-all)
      webhook_rule="accept comment \"allow-all: a rule far wider than the guide asks for\"" ;;
    *) die "firewall: unknown state $1" ;;
  esac
  nft_in "$NS_FW" <<NFT
table inet private_cluster
delete table inet private_cluster
table inet private_cluster {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    ip saddr $CP_NET ip daddr $NODE_NET jump control_plane_to_nodes
  }
  chain control_plane_to_nodes {
    tcp dport { 443, 10250 } accept comment "gke-master: the private cluster's default (API server -> kubelet, 443)"
    $webhook_rule
    counter drop comment "everything else from the control plane: dropped silently"
  }
}
NFT
  echo "$1" >"$STATE/firewall"
}

# kube-proxy on the node: the Services' ClusterIPs, DNAT to the pod for a
# Service with ready endpoints, REJECT (ICMP port-unreachable) for one without.
set_kubeproxy() {
  local svc="" filter=""
  case "$1" in
    endpoints|no-endpoints|no-istiod-service) ;;
    *) die "kube-proxy: unknown state $1" ;;
  esac
  local vip
  for vip in $VIP $VIP_REV; do
    if [ "$1" = no-endpoints ]; then
      filter+="    ip daddr $vip tcp dport { 443, $XDS_PORT } reject comment \"has no endpoints\""$'\n'
    elif [ "$1" = no-istiod-service ] && [ "$vip" = "$VIP" ]; then
      continue  # the Service istiod is gone, and with it its rules
    else
      svc+="    ip daddr $vip tcp dport 443 dnat to $POD_IP:$WEBHOOK_PORT"$'\n'
      svc+="    ip daddr $vip tcp dport $XDS_PORT dnat to $POD_IP:$XDS_PORT"$'\n'
    fi
  done
  nft_in "$NS_NODE" <<NFT
table ip kube_proxy
delete table ip kube_proxy
table ip kube_proxy {
  chain services {
    type nat hook output priority -100; policy accept;
$svc  }
  chain no_endpoints {
    type filter hook output priority filter; policy accept;
$filter  }
}
NFT
  echo "$1" >"$STATE/kubeproxy"
}

# The cluster resolver: Service names to ClusterIPs; a deleted Service is NXDOMAIN.
set_dns() {
  local records=(--a "$SVC_REV=$VIP_REV")
  case "$1" in
    all) records+=(--a "$SVC=$VIP") ;;
    istiod-missing) records+=(--nxdomain "$SVC") ;;
    *) die "dns: unknown state $1" ;;
  esac
  ensure_process kube-dns "$NS_DNS" "$TESTPEER" dns --listen "$DNS_IP:53" "${records[@]}"
  echo "$1" >"$STATE/dns"
}

# istiod's two ports, as the real one behaves where a probe can see it:
#  15017 webhook server, Go's net/http over TLS: ALPN h2 or http/1.1 (an
#        HTTP/2 client preface is answered with SETTINGS, a request over h2
#        with Go's 404 text/plain, what a gRPC call gets there; use
#        `curl --http1.1` for the paths); GET /ready 200;
#        GET /inject and /validate 400 ("no body found": they want an
#        AdmissionReview POST); other paths 404.
#  15012 xDS: gRPC, so TLS with ALPN h2 only; a connection that did not
#        negotiate h2 is closed; the HTTP/2 preface is answered with SETTINGS.
# One certificate for both: empty subject, SANs istiod.istio-system.svc and
# the revision's name (no .cluster.local), signed by the mesh CA.
set_istiod() {
  local cert=$STATE/pki/leaf.pem key=$STATE/pki/leaf-key.pem webhook_extra=()
  case "$1" in
    serving) ;;
    hung) webhook_extra=(--hang) ;;
    expired) cert=$STATE/pki/expired.pem key=$STATE/pki/expired-key.pem ;;
    stopped)
      stop_process istiod-webhook
      stop_process istiod-xds
      echo "$1" >"$STATE/istiod"
      return 0 ;;
    *) die "istiod: unknown state $1" ;;
  esac
  if [ -f "$STATE/apiserver/marker" ]; then
    # The API server's admission chain calls 15017 with AdmissionReviews:
    # Go's webhook server answers them as istiod does. It prints its address
    # once it listens.
    local mode=istiod
    [ "$1" = hung ] && mode=hang
    READY_PATTERN="^$POD_IP:$WEBHOOK_PORT\$" ensure_process istiod-webhook "$NS_ISTIOD" \
      "$GOPEER" webhook-serve --mode "$mode" --listen "$POD_IP:$WEBHOOK_PORT" --cert "$cert" --key "$key"
  else
    ensure_process istiod-webhook "$NS_ISTIOD" "$TESTPEER" serve --mode tls_http \
      --listen "$POD_IP:$WEBHOOK_PORT" --cert "$cert" --key "$key" \
      --status 404 --path-status /ready=200 --path-status /inject=400 --path-status /validate=400 \
      --also-h2 "${webhook_extra[@]}"
  fi
  ensure_process istiod-xds "$NS_ISTIOD" "$TESTPEER" serve --mode tls_h2 \
    --listen "$POD_IP:$XDS_PORT" --cert "$cert" --key "$key"
  echo "$1" >"$STATE/istiod"
}

# A NetworkPolicy in istio-system, enforced on istiod's node (as Calico or
# GKE Dataplane V2 do): dropped, not rejected.
set_netpol() {
  local rule=""
  case "$1" in
    open) ;;
    webhook-only) rule="tcp dport $XDS_PORT counter drop comment \"NetworkPolicy istiod-ingress: 15017 only\"" ;;
    *) die "NetworkPolicy: unknown state $1" ;;
  esac
  nft_in "$NS_ISTIOD" <<NFT
table inet network_policy
delete table inet network_policy
table inet network_policy {
  chain ingress {
    type filter hook input priority filter; policy accept;
    $rule
  }
}
NFT
  echo "$1" >"$STATE/netpol"
}

# The sidecars' discovery address (meshConfig defaultConfig.discoveryAddress).
set_discovery() {
  case "$1" in
    current) echo "$DISCOVERY_CURRENT" >"$STATE/discovery-address" ;;
    old-revision) echo "$DISCOVERY_OLD" >"$STATE/discovery-address" ;;
    webhook-port) echo "$DISCOVERY_WEBHOOK" >"$STATE/discovery-address" ;;
    *) die "discovery address: unknown state $1" ;;
  esac
  echo "$1" >"$STATE/discovery"
}

# The webhook configurations' caBundle: the mesh CA, or a stale one.
set_cabundle() {
  local source
  case "$1" in
    current) source=$STATE/pki/ca.pem ;;
    stale) source=$STATE/pki/other-ca.pem ;;
    *) die "caBundle: unknown state $1" ;;
  esac
  # Replaced in one rename, as a ConfigMap volume update is: a reader (the
  # agent re-reads bundles when they change) never sees half a file.
  cp "$source" "$BUNDLE_CABUNDLE.new"
  mv -f "$BUNDLE_CABUNDLE.new" "$BUNDLE_CABUNDLE"
  echo "$1" >"$STATE/cabundle"
}

apply_scenario() {
  local firewall kubeproxy dns istiod netpol cabundle discovery key
  read -r firewall kubeproxy dns istiod netpol cabundle discovery <<<"$(scenario_state "$1")"
  set_firewall "$firewall"
  set_kubeproxy "$kubeproxy"
  set_dns "$dns"
  set_istiod "$istiod"
  set_netpol "$netpol"
  set_cabundle "$cabundle"
  set_discovery "$discovery"
  echo "$1" >"$STATE/scenario"
  # A running emulated API server follows: its cluster holds the caBundle.
  [ -f "$STATE/apiserver/marker" ] && write_apiserver_state
  # A running agent follows: it reloads its config when the file changes.
  for key in node cp; do
    [ -f "$STATE/agent-$key.yaml" ] && write_agent_config "$key" "$STATE/agent-$key.yaml"
  done
  return 0
}

# --- up and down -------------------------------------------------------------
lab_up() {
  require_lab_host
  lab_down >/dev/null
  mkdir -p "$STATE"/{pids,logs,pki,bundles,checks}
  build_network

  # The test mesh CA, istiod's certificate (and its expired twin), and an
  # unrelated CA that plays the stale caBundle.
  "$TESTPEER" pki "$STATE/pki" --san "$SVC" --san "$SVC_REV" --expired >/dev/null
  cp "$STATE/pki/ca.pem" "$BUNDLE_ROOT"

  apply_scenario healthy
  touch "$STATE/up"
  log "up: namespaces ${LAB_NAMESPACES[*]}; istiod at $POD_IP ($SVC -> $VIP, $SVC_REV -> $VIP_REV); state in $STATE"
}

lab_down() {
  # Processes first (recorded pids, everything inside a lab namespace, and
  # anything marked as the lab's), then the namespaces - with them go their
  # interfaces, the bridge and every nftables rule - then resolver configs
  # and the state directory. Safe to run any number of times.
  local pids ns
  pids=$(lab_pids)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill_and_wait $pids
  for ns in "${LAB_NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf /etc/netns/mplab-*
  rm -rf "$STATE"
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "lab: down left behind:" >&2
    echo "$left" >&2
    return 1
  fi
  log "down: nothing left"
}

# --- checks --------------------------------------------------------------------
bundle_file() { case "$1" in caBundle) echo "$BUNDLE_CABUNDLE" ;; root) echo "$BUNDLE_ROOT" ;; esac; }

# Probes every target of VANTAGE once, each with
# its own `meshprobe check --output json` inside the vantage's namespace, all
# at the same time; writes $STATE/checks/VANTAGE/LABEL.json and .meta.
run_checks() {
  local key ns label_name dir
  key=$(vantage_key "$1")
  ns=$(vantage_ns "$key")
  label_name=$(vantage_label "$key")
  dir=$STATE/checks/$key
  rm -rf "$dir"; mkdir -p "$dir"
  local vantage label url bundle server expect what pids=()
  while IFS='|' read -r vantage label url bundle server expect what; do
    [ "$vantage" = "$key" ] || continue
    printf '%s|%s|%s|%s\n' "$url" "$bundle" "${server:-}" "$what" >"$dir/$label.meta"
    local args=(check --output json --vantage "$label_name" --timeout "$CHECK_TIMEOUT")
    [ -n "$bundle" ] && args+=(--ca-file "$(bundle_file "$bundle")")
    [ -n "$server" ] && args+=(--server-name "$server")
    if [ -n "$expect" ]; then
      # An expectation is a target key: the target comes from a config file.
      printf 'targets:\n  - {name: %s, url: "%s", expect: %s}\n' "$label" "$url" "$expect" \
        >"$dir/$label.yaml"
      args+=(--config "$dir/$label.yaml")
    else
      args+=("$url")
    fi
    ( rc=0
      in_ns "$ns" "$MESHPROBE" "${args[@]}" >"$dir/$label.json" 2>"$dir/$label.err" || rc=$?
      echo "$rc" >"$dir/$label.rc" ) &
    pids+=($!)
  done < <(lab_targets)
  wait "${pids[@]}"
}

# Prints one vantage's results as a table.
print_checks() {
  local key dir file label
  key=$(vantage_key "$1")
  dir=$STATE/checks/$key
  printf '%-14s %-17s %-52s %-22s %s\n' vantage target url diagnosis message
  for file in "$dir"/*.meta; do
    label=$(basename "$file" .meta)
    IFS='|' read -r url _ <"$file"
    jq -r --arg v "$(vantage_label "$key")" --arg l "$label" --arg u "$url" \
      '.results[] | [$v, $l, $u, .diagnosis, (if .diagnosis == "ok" then "" else .message end)]
       | @tsv' "$dir/$label.json" 2>/dev/null \
      | while IFS=$'\t' read -r v l u d m; do
          printf '%-14s %-17s %-52s %-22s %s\n' "$v" "$l" "$u" "$d" "$m"
        done
  done
}

lab_check() {
  require_up
  run_checks "$1"
  print_checks "$1"
}

# --- the mesh config, from an emulated API server -----------------------------
# The sidecars' discovery address as a cluster holds it: ConfigMap
# istio-$REVISION in istio-system, key mesh (MeshConfig YAML), served by
# test/integration/kube/fake_apiserver.py on the node's loopback with the
# Services that exist (istiod and the revision's, not the old revision's).

# Starts the emulator (process "meshapi" in the node namespace, apart from
# `lab.sh apiserver`'s) serving the current discovery address; writes
# $STATE/meshapi/kubeconfig.yaml.
start_lab_apiserver() {
  local dir=$STATE/meshapi discovery
  discovery=$(cat "$STATE/discovery-address")
  mkdir -p "$dir"
  [ -f "$dir/pki/leaf.pem" ] || "$TESTPEER" pki "$dir/pki" --san 127.0.0.1 >/dev/null
  jq -n --arg token "$API_TOKEN" --arg root "$(cat "$BUNDLE_ROOT")" \
        --arg mesh "$(printf 'defaultConfig:\n  discoveryAddress: %s\n  proxyMetadata: {}\nrootNamespace: istio-system\ntrustDomain: cluster.local\n' "$discovery")" \
        --arg rev "$REVISION" '
    def service($name; $ip): {metadata: {name: $name, namespace: "istio-system", labels: {app: "istiod"}},
      spec: {type: "ClusterIP", clusterIP: $ip, selector: {app: "istiod"},
             ports: [{name: "https-webhook", protocol: "TCP", port: 443, targetPort: 15017},
                     {name: "grpc-xds", protocol: "TCP", port: 15012, targetPort: 15012}]}};
    {token: $token,
     namespaces: [{metadata: {name: "istio-system", labels: {"kubernetes.io/metadata.name": "istio-system"}}, status: {phase: "Active"}}],
     services: [service("istiod"; "'"$VIP"'"), service("istiod-" + $rev; "'"$VIP_REV"'")],
     configmaps: [{metadata: {name: ("istio-" + $rev), namespace: "istio-system", labels: {"istio.io/rev": $rev}},
                   data: {mesh: $mesh, meshNetworks: "networks: {}"}},
                  {metadata: {name: "istio-ca-root-cert", namespace: "istio-system"}, data: {"root-cert.pem": $root}}]}' \
    >"$dir/state.json"
  start_emulator meshapi "$NS_NODE" "$dir" --listen 127.0.0.1
  write_emulator_kubeconfig "$dir" "https://127.0.0.1:$(cat "$dir/port")" "$API_TOKEN"
}

# `meshprobe check --kubeconfig` from the node: its xDS target is the mesh
# config's discovery address. Writes two rows of the node's table:
# xds-mesh-config (that target's result) and discovery-hygiene (the
# discovery_address_stale finding, as a result: its code and message).
mesh_config_checks() {
  local dir=$STATE/checks/node rc=0
  start_lab_apiserver
  in_ns "$NS_NODE" "$MESHPROBE" check --kubeconfig "$STATE/meshapi/kubeconfig.yaml" --revision "$REVISION" \
    --output json --vantage node --timeout "$CHECK_TIMEOUT" >"$dir/mesh-config.json" 2>"$dir/mesh-config.err" || rc=$?
  stop_process meshapi
  local label
  for label in xds-mesh-config discovery-hygiene; do
    echo "$rc" >"$dir/$label.rc"
    printf '%s|%s|%s|%s\n' "--kubeconfig" root "" "the discovery address read from the emulated mesh config" >"$dir/$label.meta"
  done
  jq '{results: [.results[]? | select(.name == "xds-discovery-address")]}' "$dir/mesh-config.json" \
    >"$dir/xds-mesh-config.json" 2>/dev/null || echo '{"results": []}' >"$dir/xds-mesh-config.json"
  jq '{results: [.hygiene[]? | select(.code == "discovery_address_stale") | {diagnosis: .code, message}]}' \
    "$dir/mesh-config.json" >"$dir/discovery-hygiene.json" 2>/dev/null || echo '{"results": []}' >"$dir/discovery-hygiene.json"
}

# Checks both vantages and compares every target with the scenario's expected
# diagnosis (and message fragment). Prints the table; returns 1 on a mismatch.
verify_scenario() {
  local name=$1 failures=0 key
  local -A expected=() fragment=()
  local vantage label diagnosis rest
  while read -r vantage label diagnosis rest; do
    [ -n "$vantage" ] || continue
    expected["$vantage/$label"]=$diagnosis
    fragment["$vantage/$label"]=$rest
  done < <(expectations "$name")
  run_checks node &
  local node_pid=$!
  run_checks cp
  wait "$node_pid"
  [ "$name" = no-healthy-upstream ] && mesh_config_checks

  printf '%-14s %-17s %-22s %-22s %-5s %s\n' vantage target expected got "" message
  local file got message rc count want frag verdict observed
  for key in node cp; do
    for file in "$STATE/checks/$key"/*.meta; do
      label=$(basename "$file" .meta)
      want=${expected["$key/$label"]:-ok}
      frag=${fragment["$key/$label"]:-}
      rc=$(cat "$STATE/checks/$key/$label.rc")
      count=$(jq '.results | length' "$STATE/checks/$key/$label.json" 2>/dev/null || echo 0)
      got=$(jq -r '.results[0].diagnosis // "none"' "$STATE/checks/$key/$label.json" 2>/dev/null || echo none)
      message=$(jq -r '.results[0].message // ""' "$STATE/checks/$key/$label.json" 2>/dev/null || true)
      # A negative test that held: show what the firewall did to the path.
      observed=$(jq -r '.results[0].observed // empty' "$STATE/checks/$key/$label.json" 2>/dev/null || true)
      verdict=PASS
      if [ "$rc" -gt 1 ] || [ "$count" != 1 ] || [ "$got" != "$want" ] \
         || { [ -n "$frag" ] && [[ "$message" != *"$frag"* ]]; }; then
        verdict=FAIL
        failures=$((failures + 1))
      fi
      [ "$rc" -gt 1 ] && message="meshprobe check exit $rc: $(cat "$STATE/checks/$key/$label.err")"
      printf '%-14s %-17s %-22s %-22s %-5s %s\n' "$(vantage_label "$key")" "$label" \
        "$want${frag:+ ~\"$frag\"}" "$got${observed:+ ($observed)}" "$verdict" \
        "$([ "$got" = ok ] && [ "$verdict" = PASS ] || echo "$message")"
    done
  done
  # Every expectation must have been checked.
  for key in "${!expected[@]}"; do
    if [ ! -f "$STATE/checks/${key%%/*}/${key#*/}.meta" ]; then
      echo "FAIL: expectation for unknown target $key"
      failures=$((failures + 1))
    fi
  done
  if [ "$failures" -gt 0 ]; then
    echo "scenario $name: $failures mismatch(es)"
    return 1
  fi
  echo "scenario $name: every target as expected from both vantages"
}

scenario_line() {
  local entry
  for entry in "${SCENARIOS[@]}"; do
    [ "${entry%%|*}" = "$1" ] && { echo "$entry"; return 0; }
  done
  die "unknown scenario: $1 (lab.sh scenarios lists them)"
}

lab_scenario() {
  local name=$1 seed change
  require_up
  IFS='|' read -r _ seed change <<<"$(scenario_line "$name")"
  apply_scenario "$name"
  echo "== scenario $name: $change"
  [ "$seed" = - ] || echo "   symptom: $seed"
  verify_scenario "$name"
}

lab_apply() {
  require_up
  scenario_line "$1" >/dev/null
  apply_scenario "$1"
  log "scenario $1 applied: $(scenario_line "$1" | cut -d'|' -f3)"
}

# --- the emulated API server ---------------------------------------------------
# Exits 77 ("skipped") when the emulated API server cannot run here.
require_apiserver_tools() {
  command -v python3 >/dev/null || { echo "SKIP: the emulated API server needs python3 (run .ci/install-deps)"; exit 77; }
  [ -x "$GOPEER" ] || { echo "SKIP: no Go peer at $GOPEER (build meshprobe-gopeer, or set GOPEER): the emulated API server calls webhooks with it"; exit 77; }
}

# The emulated cluster, as the API server would return it: the lab's istiod
# (Service istiod, 443 -> the pod's 15017; its EndpointSlice with the pod
# IP), the webhook configurations trusting the lab's webhook caBundle and
# calling istiod through the Service (the API server dials the ready
# endpoint: the pod IP and 15017), the mesh root ConfigMap, the canary
# namespace, and the Service default/kubernetes whose EndpointSlice holds the
# API server's own address (the control plane's, as a cluster publishes it).
# Replaced in one rename: the emulator re-reads it when it changes.
write_apiserver_state() {
  jq -n --arg token "$API_TOKEN" --arg ca "$(base64 -w0 <"$BUNDLE_CABUNDLE")" \
        --arg root "$(cat "$BUNDLE_ROOT")" --arg pod_ip "$POD_IP" --arg pod "$ISTIOD_POD" \
        --arg canary "$CANARY_NAMESPACE" --arg node "$NS_ISTIOD" --arg api_ip "$API_IP" \
        --argjson api_port "$API_PORT" \
        --argjson webhook_port "$WEBHOOK_PORT" --argjson xds_port "$XDS_PORT" \
        --argjson timeout "$ADMISSION_TIMEOUT_SECONDS" '
  def webhook($name; $selector; $path; $rules): {
    name: $name, admissionReviewVersions: ["v1beta1", "v1"], sideEffects: "None",
    failurePolicy: "Fail", matchPolicy: "Equivalent", timeoutSeconds: $timeout,
    clientConfig: {service: {namespace: "istio-system", name: "istiod", path: $path, port: 443}, caBundle: $ca},
    namespaceSelector: $selector, rules: $rules};
  def namespace($name; $labels): {metadata: {name: $name, labels: ({"kubernetes.io/metadata.name": $name} + $labels)},
                                  status: {phase: "Active"}};
  {
    token: $token,
    # The proxy subresource dial (the builtin istiod-webhook-from-apiserver):
    # short, as the lab keeps its timings small.
    dial_timeout: 1.0,
    mutatingwebhookconfigurations: [{
      metadata: {name: "istio-sidecar-injector", labels: {"istio.io/rev": "default", app: "sidecar-injector"}},
      webhooks: [webhook("namespace.sidecar-injector.istio.io";
                   {matchExpressions: [{key: "istio-injection", operator: "In", values: ["enabled"]}]}; "/inject";
                   [{operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "*"}])]}],
    validatingwebhookconfigurations: [{
      metadata: {name: "istio-validator-istio-system", labels: {"istio.io/rev": "default"}},
      webhooks: [webhook("rev.validation.istio.io"; {}; "/validate";
                   [{operations: ["CREATE", "UPDATE"], apiGroups: ["networking.istio.io"], apiVersions: ["*"], resources: ["*"]}])]}],
    namespaces: [namespace("default"; {}), namespace("istio-system"; {}),
                 namespace($canary; {"istio-injection": "enabled"})],
    services: [{
      metadata: {name: "kubernetes", namespace: "default", labels: {component: "apiserver", provider: "kubernetes"}},
      spec: {type: "ClusterIP", clusterIP: "203.0.113.1",
             ports: [{name: "https", protocol: "TCP", port: 443, targetPort: $api_port}]}}, {
      metadata: {name: "istiod", namespace: "istio-system", labels: {app: "istiod", "istio.io/rev": "default"}},
      spec: {type: "ClusterIP", clusterIP: "'"$VIP"'", selector: {app: "istiod"},
             ports: [{name: "https-dns", protocol: "TCP", port: $xds_port, targetPort: $xds_port},
                     {name: "https-webhook", protocol: "TCP", port: 443, targetPort: $webhook_port}]}}],
    endpointslices: [{
      metadata: {name: "kubernetes", namespace: "default", labels: {"kubernetes.io/service-name": "kubernetes"}},
      addressType: "IPv4",
      endpoints: [{addresses: [$api_ip], conditions: {ready: true}}],
      ports: [{name: "https", protocol: "TCP", port: $api_port}]}, {
      metadata: {name: "istiod-lab01", namespace: "istio-system",
                 labels: {"kubernetes.io/service-name": "istiod", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
      addressType: "IPv4",
      endpoints: [{addresses: [$pod_ip], conditions: {ready: true, serving: true, terminating: false},
                   targetRef: {kind: "Pod", namespace: "istio-system", name: $pod}, nodeName: $node}],
      ports: [{name: "https-webhook", protocol: "TCP", port: $webhook_port},
              {name: "https-dns", protocol: "TCP", port: $xds_port}]}],
    configmaps: [{metadata: {name: "istio-ca-root-cert", namespace: "istio-system"}, data: {"root-cert.pem": $root}}],
    pods: [{metadata: {name: $pod, namespace: "istio-system"}, status: {podIP: $pod_ip}}]
  }' >"$STATE/apiserver/state.json.new"
  mv -f "$STATE/apiserver/state.json.new" "$STATE/apiserver/state.json"
}

# A kubeconfig for an emulated API server at SERVER whose CA is DIR/pki, as a
# node's kubectl has it: DIR/kubeconfig.yaml.
write_emulator_kubeconfig() {
  write_token_kubeconfig "$1/kubeconfig.yaml" "$2" "$1/pki/ca.pem" "$3"
}

# Starts test/integration/kube/fake_apiserver.py as process NAME in network
# namespace NS, serving DIR/state.json with DIR/pki's leaf (ARGS: --listen,
# --port, ...), and waits until it listens (DIR/port). Started afresh, so the
# port file is its own.
start_emulator() {
  local name=$1 ns=$2 dir=$3 _
  shift 3
  stop_process "$name"
  rm -f "$dir/port"
  WAIT_READY=0 start_process "$name" "$ns" python3 "$FAKE_APISERVER" \
    --state "$dir/state.json" --cert "$dir/pki/leaf.pem" --key "$dir/pki/leaf-key.pem" \
    --port-file "$dir/port" "$@"
  for _ in $(seq 1 100); do
    [ -s "$dir/port" ] && break
    alive "$(cat "$STATE/pids/$name.pid")" || break
    sleep 0.05
  done
  [ -s "$dir/port" ] || die "the emulated API server did not start: $(cat "$STATE/logs/$name.log")"
}

# Starts the emulated API server inside the control-plane network and makes
# istiod's 15017 Go's webhook server. Safe to repeat (it restarts).
lab_apiserver() {
  require_up
  require_apiserver_tools
  mkdir -p "$STATE/apiserver"
  [ -f "$STATE/apiserver/pki/leaf.pem" ] \
    || "$TESTPEER" pki "$STATE/apiserver/pki" --san "$API_IP" >/dev/null
  touch "$STATE/apiserver"/marker
  write_apiserver_state
  write_emulator_kubeconfig "$STATE/apiserver" "https://$API_IP:$API_PORT" "$API_TOKEN"
  # istiod as it is now, with the webhook server that answers AdmissionReviews.
  set_istiod "$(cat "$STATE/istiod")"
  start_emulator apiserver "$NS_CP" "$STATE/apiserver" --listen "$API_IP" --port "$API_PORT" \
    --log "$STATE/logs/apiserver-requests.log" --gopeer "$GOPEER"
  log "apiserver: emulated at https://$API_IP:$API_PORT inside $NS_CP (webhooks' timeoutSeconds" \
      "$ADMISSION_TIMEOUT_SECONDS); kubeconfig $STATE/apiserver/kubeconfig.yaml; istiod's 15017 is Go's webhook server"
}

# `meshprobe check --kubeconfig` from the node with ARGS (e.g. --output json):
# the builtin Kubernetes set, the admission probes in the canary namespace,
# one verdict per webhook. The probes keep their own timeouts: the admission
# probe's must outlast the webhooks' timeoutSeconds.
admission_check() {
  [ -f "$STATE/apiserver/marker" ] || die "the emulated API server is not running (lab.sh apiserver)"
  in_ns "$NS_NODE" "$MESHPROBE" check --kubeconfig "$STATE/apiserver/kubeconfig.yaml" \
    --vantage node "$@"
}

# --- the agent -----------------------------------------------------------------
write_agent_config() {
  local key=$1 file=$2 vantage label url bundle server expect what
  {
    echo "# written by test/lab/lab.sh for the $(vantage_label "$key") vantage"
    echo "listen: 127.0.0.1:9717"
    echo "vantage: $(vantage_label "$key")"
    echo "node_name: $(vantage_ns "$key")"
    echo "defaults: {interval: $AGENT_INTERVAL, timeout: $AGENT_TIMEOUT}"
    echo "ca_bundles:"
    echo "  caBundle: {file: $BUNDLE_CABUNDLE}   # the webhook configurations' caBundle"
    echo "  root: {file: $BUNDLE_ROOT}           # ConfigMap istio-ca-root-cert"
    echo "targets:"
    while IFS='|' read -r vantage label url bundle server expect what; do
      [ "$vantage" = "$key" ] || continue
      echo "  # $what"
      echo "  - name: $label"
      echo "    url: $url"
      if [ -n "$bundle" ]; then echo "    ca: $bundle"; fi
      if [ -n "$server" ]; then echo "    server_name: $server"; fi
      if [ -n "$expect" ]; then echo "    expect: $expect"; fi
    done < <(lab_targets)
  } >"$file.new"
  # One rename, and only for a change: the agent reloads when the file
  # changes, and never reads half a config.
  if cmp -s "$file.new" "$file"; then
    rm -f "$file.new"
  else
    mv -f "$file.new" "$file"
  fi
}

lab_agent() {
  require_up
  local key ns
  key=$(vantage_key "$1")
  ns=$(vantage_ns "$key")
  write_agent_config "$key" "$STATE/agent-$key.yaml"
  stop_process "agent-$key"
  WAIT_READY=0 start_process "agent-$key" "$ns" "$MESHPROBE" agent --config "$STATE/agent-$key.yaml"
  local _
  for _ in $(seq 1 100); do
    in_ns "$ns" curl -sf -o /dev/null http://127.0.0.1:9717/healthz && break
    sleep 0.05
  done
  in_ns "$ns" curl -sf -o /dev/null http://127.0.0.1:9717/healthz \
    || die "the agent did not come up: $(cat "$STATE/logs/agent-$key.log")"
  log "agent ($(vantage_label "$key"), every $AGENT_INTERVAL) serves 127.0.0.1:9717 inside $ns;" \
      "log: $STATE/logs/agent-$key.log; look: lab.sh curl $key /status"
}

lab_curl() {
  require_up
  local ns
  ns=$(vantage_ns "$1")
  in_ns "$ns" curl -sf "http://127.0.0.1:9717${2:-/status}"
}

# The agents listen inside their namespaces, which have no route to this
# machine. This relays GET requests from 127.0.0.1:PORT here to the agent,
# one `ip netns exec ... curl` per request, in the foreground.
lab_page() {
  require_up
  local ns port=${2:-9718}
  ns=$(vantage_ns "$1")
  command -v python3 >/dev/null || die "page needs python3; instead: lab.sh curl $1 / > page.html"
  in_ns "$ns" curl -sf -o /dev/null http://127.0.0.1:9717/healthz || die "no agent in $1 (lab.sh agent $1)"
  log "the $(vantage_label "$(vantage_key "$1")") agent's page: http://127.0.0.1:$port/ (Ctrl-C to stop)"
  # Marked like every lab process, so `lab.sh down` ends it too.
  NS="$ns" PORT="$port" exec env "$LAB_MARK=1" python3 -c '
import http.server, os, subprocess
ns, port = os.environ["NS"], int(os.environ["PORT"])
class Relay(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-i", "--max-time", "10",
                              "http://127.0.0.1:9717" + self.path], capture_output=True).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            self.send_error(502, "the agent did not answer"); return
        self.send_response(status)
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() in ("content-type", "cache-control"):
                self.send_header(name, value.strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Relay).serve_forever()
'
}

lab_status() {
  if [ ! -f "$STATE/up" ]; then
    echo "the lab is down"
    local left; left=$(leftovers)
    [ -z "$left" ] || { echo "but these are left (lab.sh down removes them):"; echo "$left"; }
    return 0
  fi
  echo "scenario:   $(cat "$STATE/scenario")"
  echo "components: firewall=$(cat "$STATE/firewall") kube-proxy=$(cat "$STATE/kubeproxy")" \
       "dns=$(cat "$STATE/dns") istiod=$(cat "$STATE/istiod") networkpolicy=$(cat "$STATE/netpol")" \
       "caBundle=$(cat "$STATE/cabundle") discovery=$(cat "$STATE/discovery-address")"
  echo "namespaces: $(ip netns list | awk '/^mplab-/{print $1}' | tr '\n' ' ')"
  echo "processes:"
  local file name pid
  for file in "$STATE"/pids/*.pid; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .pid); pid=$(cat "$file")
    printf '  %-15s pid %-7s %s\n' "$name" "$pid" "$(alive "$pid" && echo running || echo GONE)"
  done
  echo "firewall ($NS_FW, forward chain):"
  in_ns "$NS_FW" nft list chain inet private_cluster control_plane_to_nodes | sed 's/^/  /'
  echo "kube-proxy ($NS_NODE):"
  in_ns "$NS_NODE" nft list table ip kube_proxy | sed 's/^/  /'
}

lab_scenarios() {
  local entry name seed change
  for entry in "${SCENARIOS[@]}"; do
    IFS='|' read -r name seed change <<<"$entry"
    printf '%-20s %s\n' "$name" "$change"
    [ "$seed" = - ] || printf '%-20s   symptom: %s\n' "" "$seed"
  done
}

usage() { sed -n '/^# Usage/,/^# This file/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

lab_main() {
  local command=${1:-help}
  shift || true
  case "$command" in
    up|down|scenario|apply|agent|apiserver)
      require_lab_host
      acquire_lab_lock "${LAB_LOCK_WAIT:-0}" "lab.sh $command" ;;
  esac
  case "$command" in
    up) lab_up ;;
    down) lab_down ;;
    scenario) [ $# = 1 ] || die "usage: lab.sh scenario NAME"; lab_scenario "$1" ;;
    apply) [ $# = 1 ] || die "usage: lab.sh apply NAME"; lab_apply "$1" ;;
    scenarios) lab_scenarios ;;
    check) [ $# = 1 ] || die "usage: lab.sh check node|cp"; lab_check "$1" ;;
    agent) [ $# = 1 ] || die "usage: lab.sh agent node|cp"; lab_agent "$1" ;;
    curl) [ $# -ge 1 ] || die "usage: lab.sh curl node|cp [PATH]"; lab_curl "$@" ;;
    page) [ $# -ge 1 ] || die "usage: lab.sh page node|cp [PORT]"; lab_page "$@" ;;
    exec) [ $# -ge 2 ] || die "usage: lab.sh exec node|cp CMD..."; local ns; ns=$(vantage_ns "$1"); shift; in_ns "$ns" "$@" ;;
    apiserver) lab_apiserver ;;
    admission) require_up; admission_check --color never ;;
    status) lab_status ;;
    help|-h|--help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  lab_main "$@"
fi
