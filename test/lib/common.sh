# The preamble every shell suite shares: a work directory that goes on exit
# together with every process the test started, fail() naming the case,
# waiting with a deadline, and the checks that skip a test (exit 77) or stop
# it for a missing tool.
#
#   CASE=...                                   # named by fail() and note()
#   # shellcheck source=../lib/common.sh
#   source "$(dirname "$0")/../lib/common.sh"
#   make_workdir                               # sets workdir, cleans up on EXIT
#
# Hooks a script may define: fail_context (what fail() prints after its
# line, e.g. show_log of a log) and cleanup_hook (run on exit once the
# processes are stopped, before the work directory is removed).
# shellcheck shell=bash
# shellcheck disable=SC2154  # CASE belongs to the sourcing script

# The agent under test, if the script runs one in the background: stopped
# on exit. A script that stops it itself sets it back to "".
agent_pid=""

# Servers are often started inside $(...), where an array append is lost with
# the subshell: every tracked pid goes to this file instead ($$ is the test
# script's pid even in its subshells).
tracked_pids="/tmp/meshprobe-test-pids.$$"

track_pid() { echo "$1" >>"$tracked_pids"; }

# Stops every tracked process.
kill_tracked() {
  [ -f "$tracked_pids" ] || return 0
  local pid
  while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$tracked_pids"
  while read -r pid; do wait "$pid" 2>/dev/null || true; done <"$tracked_pids"
  rm -f "$tracked_pids"
}

# The EXIT trap: the agent, the tracked processes, the script's own
# cleanup_hook, then the work directory.
cleanup() {
  if [ -n "$agent_pid" ]; then
    kill "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  kill_tracked
  if declare -F cleanup_hook >/dev/null; then cleanup_hook || true; fi
  if [ -n "${workdir:-}" ]; then rm -rf "$workdir"; fi
}

# make_workdir: a new directory in $workdir (under WORKDIR_IN when set, else
# the usual temporary directory), removed on exit with everything cleanup()
# stops.
make_workdir() {
  trap cleanup EXIT
  if [ -n "${WORKDIR_IN:-}" ]; then
    workdir=$(mktemp -d -p "$WORKDIR_IN" meshprobe-test.XXXXXX)
  else
    workdir=$(mktemp -d)
  fi
}

fail() {
  echo "FAIL [$CASE]: $*"
  if declare -F fail_context >/dev/null; then fail_context || true; fi
  exit 1
}

note() { echo "[$CASE] $*"; }

# show_log FILE LINES [TITLE]: the last LINES lines of FILE, if there is one.
show_log() {
  [ -f "$1" ] || return 0
  echo "--- ${3:-$(basename "$1")}"
  tail -n "$2" "$1"
}

# require_root REASON: skips the test (exit 77) unless it runs as root.
require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: $1"
    exit 77
  fi
}

# need_tools TOOL...: stops the test when a tool is not installed.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool (run .ci/install-deps)"; exit 1; }
  done
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

# start_ready OUTPUT COMMAND...: starts COMMAND in the background (tracked)
# with its output in OUTPUT, and waits up to 5 s for the "ready" line a test
# peer prints once it listens.
start_ready() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  track_pid $!
  eventually 5 grep -q ready "$out" || fail "did not start: $*: $(cat "$out")"
}
