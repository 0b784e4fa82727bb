#!/bin/bash
#   Runs every tests/integration/test_*.sh against real stage processes
#   (FANFOLD_BIN names the bin directory) and prints "N passed, N failed,
#   N skipped". Each test has a time limit; a test that hangs fails. A test
#   that exits 77 could not run here: it is reported as a skip, with the
#   reason it printed, and counted apart (never as a pass).
set -u
here=$(cd "$(dirname "$0")" && pwd)
export FANFOLD_BIN=${FANFOLD_BIN:-$here/../../bin}
export FANFOLD_ROOT=$(cd "$here/../.." && pwd)
limit=${FANFOLD_TEST_TIMEOUT:-180}
passed=0
failed=0
skipped=0
failures=""
for test in "$here"/test_*.sh; do
    name=$(basename "$test" .sh)
    [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]] && continue
    start=$(date +%s.%N)
    log=$(mktemp)
    rc=0
    timeout -k 5 "$limit" bash "$test" >"$log" 2>&1 || rc=$?
    if [ "$rc" = 77 ]; then
        skipped=$((skipped + 1))
        printf 'SKIP %-40s %s\n' "$name" "$(tail -n 1 "$log")"
    elif [ "$rc" = 0 ]; then
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
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
