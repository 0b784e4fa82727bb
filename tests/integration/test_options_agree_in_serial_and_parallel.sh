#   The launcher and the stages read options through one table: a value
#   refused in one mode is refused in the other with the same one line, and
#   the limits of a value are the same for the launcher and its stages.
. "$(dirname "$0")/lib.sh"
# run MODE ARGS...: exit status and stderr of fanfold run in that mode
run () {
    local mode=$1 rc=0
    shift
    echo "x" | "$BIN/fanfold" run --mode "$mode" "$@" > "$SCRATCH/out" 2> "$SCRATCH/err.$mode" || rc=$?
    echo "$rc"
}
agree () {                  # expected-line ARGS...: both modes exit 2 with exactly that line
    local line=$1 mode
    shift
    for mode in serial parallel; do
        rc=$(run "$mode" "$@")
        [ "$rc" = 2 ] || fail "--mode $mode $*: exit $rc, expected 2: $(cat "$SCRATCH/err.$mode")"
        [ "$(cat "$SCRATCH/err.$mode")" = "fanfold: $line" ] \
            || fail "--mode $mode $*: stderr '$(cat "$SCRATCH/err.$mode")', expected 'fanfold: $line'"
    done
}
agree "--block 1M is larger than --max-block 512K" --pipe --block 1M --max-block 512K -K noop
agree "--timeout -1: expected seconds from 0 to 1e+06" --pipe --timeout -1 -K noop
agree "--retries 0: expected a count from 1 to 1000" --pipe --retries 0 -K noop
agree "--block 2G: expected a size from 1 to 1G, such as 4M" --pipe --block 2G -K noop
agree "unknown option '--frobnicate'" --pipe --frobnicate -K noop
agree "--lines: missing value (N)" --pipe --lines
# values both accept: a block equal to --max-block, and --timeout 0 (no limit)
for mode in serial parallel; do
    rc=$(run "$mode" -w 1 --pipe --block 512K --max-block 512K --timeout 0 -K noop)
    [ "$rc" = 0 ] || fail "--mode $mode: a block equal to --max-block: exit $rc: $(cat "$SCRATCH/err.$mode")"
    [ "$(cat "$SCRATCH/out")" = "x" ] || fail "--mode $mode: output '$(cat "$SCRATCH/out")'"
done
# the default block shrinks to a smaller --max-block in both modes
seq 1 20000 > "$SCRATCH/lines.txt"
for mode in serial parallel; do
    "$BIN/fanfold" run --mode "$mode" -w 2 --pipe --max-block 4K -K noop < "$SCRATCH/lines.txt" \
        > "$SCRATCH/out.$mode"
    same "$SCRATCH/lines.txt" "$SCRATCH/out.$mode" "--max-block 4K alone, --mode $mode"
done
# the kernels see the same parameters in both modes: a -p timeout= comes
# before --timeout's in the welcome, and so in --serial
for mode in serial parallel; do
    "$BIN/fanfold" run --mode "$mode" -w 1 --timeout 5 -p timeout=1 --format jsonl \
        --exec 'sleep 2; echo done {}' a > "$SCRATCH/params.$mode" 2>/dev/null || true
done
same "$SCRATCH/params.serial" "$SCRATCH/params.parallel" "-p timeout= with --timeout, serial vs parallel"
grep -q 'timed out after 1 s' "$SCRATCH/params.serial" || fail "-p timeout=1 is not the kernel's limit: $(cat "$SCRATCH/params.serial")"
