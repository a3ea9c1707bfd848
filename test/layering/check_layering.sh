#!/usr/bin/env bash
# Builds each layering case of test/layering/CMakeLists.txt in BUILD_DIR.
# CASE:HEADER must fail, and fail because HEADER is not found; CASE: (no
# header) is a control and must compile.
set -uo pipefail
build=$1
shift
failures=0
for spec in "$@"; do
  name=${spec%%:*}
  header=${spec#*:}
  output=$(cmake --build "$build" --target "layering_$name" 2>&1)
  status=$?
  if [ -z "$header" ]; then
    if [ "$status" -ne 0 ]; then
      echo "FAIL $name: the control does not compile:"
      echo "$output" | tail -5
      failures=$((failures + 1))
    else
      echo "ok   $name compiles"
    fi
  elif [ "$status" -eq 0 ]; then
    echo "FAIL $name: including $header compiled; the room may not include it"
    failures=$((failures + 1))
  elif ! grep -q "$header: No such file or directory" <<<"$output"; then
    echo "FAIL $name: the build failed, but not for want of $header:"
    echo "$output" | tail -5
    failures=$((failures + 1))
  else
    echo "ok   $name does not compile ($header: No such file or directory)"
  fi
done
exit "$failures"
