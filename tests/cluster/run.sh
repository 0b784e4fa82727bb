#!/bin/bash
#   Runs every tests/cluster/test_*.sh: jobs across network namespaces
#   that act as hosts (sshd in each, or a Slurm cluster started by the
#   test). A test that cannot make namespaces here exits 77 and counts as
#   skipped, never as passed. Prints "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
export FANFOLD_BIN=${FANFOLD_BIN:-$here/../../bin}
export FANFOLD_ROOT=$(cd "$here/../.." && pwd)
limit=${FANFOLD_TEST_TIMEOUT:-240}
passed=0 failed=0 skipped=0
failures=""
for test in "$here"/test_*.sh; do
    name=$(basename "$test" .sh)
    [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]] && continue
    start=$(date +%s.%N)
    log=$(mktemp)
    timeout -k 10 "$limit" bash "$test" >"$log" 2>&1
    rc=$?
    took=$(echo "$(date +%s.%N) - $start" | bc)
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %-55s %6.1fs\n' "$name" "$took"
        grep '^cluster:' "$log" | sed 's/^/    /'
    elif [ $rc = 77 ]; then
        skipped=$((skipped + 1))
        printf 'SKIP %-55s %6.1fs\n' "$name" "$took"
        tail -n 3 "$log" | sed 's/^/    | /'
    else
        failed=$((failed + 1))
        failures="$failures $name"
        printf 'FAIL %-55s %6.1fs (exit %d)\n' "$name" "$took" $rc
        sed 's/^/    | /' "$log" | tail -n 60
    fi
    rm -f "$log"
done
[ -n "$failures" ] && echo "failed:$failures"
echo "cluster: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
