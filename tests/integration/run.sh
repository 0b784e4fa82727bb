#!/bin/bash
#   Runs every tests/integration/test_*.sh against real stage processes
#   (FANFOLD_BIN names the bin directory) and prints "N passed, N failed".
#   Each test has a time limit; a test that hangs fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export FANFOLD_BIN=${FANFOLD_BIN:-$here/../../bin}
export FANFOLD_ROOT=$(cd "$here/../.." && pwd)
limit=${FANFOLD_TEST_TIMEOUT:-180}
passed=0
failed=0
failures=""
for test in "$here"/test_*.sh; do
    name=$(basename "$test" .sh)
    [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]] && continue
    start=$(date +%s.%N)
    log=$(mktemp)
    if timeout -k 5 "$limit" bash "$test" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'PASS %-40s %6.1fs\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        printf 'FAIL %-40s %6.1fs\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
        sed 's/^/    | /' "$log" | tail -n 40
    fi
    rm -f "$log"
done
[ -n "$failures" ] && echo "failed:$failures"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
