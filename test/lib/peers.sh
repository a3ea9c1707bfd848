# Test peers for the shell suites: free loopback ports, `meshprobe-testpeer
# serve`, and the emulated Kubernetes API server. Source it after
# common.sh, with TESTPEER set.
# shellcheck shell=bash
# shellcheck disable=SC2154  # workdir and TESTPEER belong to the sourcing script

# A loopback port nothing listens on, below the kernel's ephemeral range so
# outgoing connections cannot take it meanwhile.
free_port() {
  local port
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  fail "no free port"
}

# serve ARGS...: starts `meshprobe-testpeer serve` on 127.0.0.1, prints its port.
serve() {
  local port
  port=$(free_port)
  start_ready "$workdir/peer-$port.out" "$TESTPEER" serve --listen "127.0.0.1:$port" "$@"
  echo "$port"
}

# The emulated Kubernetes API server (HTTPS on loopback, the real API's paths
# and JSON shapes; its usage is at the top of the file).
FAKE_APISERVER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration/kube" && pwd)/fake_apiserver.py"

# start_fake_apiserver [ARGS...]: the emulator in the background (tracked)
# with the cluster in $workdir/state.json and the certificate in
# $workdir/api/leaf.pem (leaf-key.pem), e.g. from `meshprobe-testpeer pki
# $workdir/api --san 127.0.0.1`; its output goes to $workdir/apiserver.err.
# Waits until it listens; sets API_PORT and apiserver_pid.
start_fake_apiserver() {
  "${PYTHON:-python3}" "$FAKE_APISERVER" --state "$workdir/state.json" \
    --cert "$workdir/api/leaf.pem" --key "$workdir/api/leaf-key.pem" \
    --port-file "$workdir/api.port" "$@" >"$workdir/apiserver.err" 2>&1 &
  apiserver_pid=$!
  track_pid "$apiserver_pid"
  eventually 10 test -s "$workdir/api.port" \
    || fail "the emulated API server did not start: $(cat "$workdir/apiserver.err")"
  # shellcheck disable=SC2034  # for the sourcing script
  API_PORT=$(cat "$workdir/api.port")
}
