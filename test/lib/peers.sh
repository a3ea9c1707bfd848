# Helpers shared by the shell-driven tests: free loopback ports, waiting with a
# deadline, and test peers that are always cleaned up. Source it after
# setting TESTPEER and workdir and defining fail().
# shellcheck shell=bash
# shellcheck disable=SC2154  # workdir and TESTPEER belong to the sourcing script

# Servers are often started inside $(...), where an array append is lost with
# the subshell: every tracked pid goes to this file instead ($$ is the test
# script's pid even in its subshells).
tracked_pids="/tmp/meshprobe-test-pids.$$"

track_pid() { echo "$1" >>"$tracked_pids"; }

# Stops every tracked process; for the script's EXIT trap.
kill_tracked() {
  [ -f "$tracked_pids" ] || return 0
  local pid
  while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$tracked_pids"
  while read -r pid; do wait "$pid" 2>/dev/null || true; done <"$tracked_pids"
  rm -f "$tracked_pids"
}

# A loopback port nothing listens on, below the kernel's ephemeral range so
# outgoing connections cannot take it meanwhile.
free_port() {
  local port
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  fail "no free port"
}

# eventually SECONDS COMMAND...: retries COMMAND until it succeeds or time is up.
eventually() {
  local deadline=$(( $(date +%s) + $1 ))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# serve ARGS...: starts `meshprobe-testpeer serve` on 127.0.0.1, prints its port.
serve() {
  local port out
  port=$(free_port)
  out="$workdir/peer-$port.out"
  "$TESTPEER" serve --listen "127.0.0.1:$port" "$@" >"$out" 2>&1 &
  track_pid $!
  eventually 5 grep -q ready "$out" || fail "testpeer did not start: $(cat "$out")"
  echo "$port"
}
