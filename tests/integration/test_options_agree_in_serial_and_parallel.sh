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
# GNU parallel's output options give the same bytes, exit status and files
# in both modes (--halt, --tag, --tagstring, --results, --eta, --bar);
# SNIPPET runs in a fresh directory with `ff` as `fanfold run --mode MODE`
both () {
    local name=$1 snippet=$2 mode
    for mode in serial parallel; do
        local dir="$SCRATCH/both/$name.$mode" rc=0
        mkdir -p "$dir/work"
        (
            cd "$dir/work"
            ff () { "$BIN/fanfold" run --mode "$mode" "$@"; }
            export -f ff
            export BIN mode
            SHELL=/bin/bash timeout -k 2 30 bash -c "$snippet"
        ) < /dev/null > "$dir/out" 2> "$dir/err" || rc=$?
        echo "$rc" > "$dir/rc"
        (cd "$dir/work" && find . -mindepth 1 -printf '%y %p\n' | LC_ALL=C sort \
            && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) > "$dir/files"
    done
    local s="$SCRATCH/both/$name.serial" p="$SCRATCH/both/$name.parallel" what
    for what in out rc files; do
        cmp -s "$s/$what" "$p/$what" || fail "$name: $what differs between --mode serial and parallel:
$(diff "$s/$what" "$p/$what" | head -n 10)
stderr: $(tail -n 3 "$p/err")"
    done
}
both halt_now_fail 'ff -k -j1 --halt now,fail=1 "echo {}; exit {}" ::: 0 0 3 0'
both halt_soon_count 'ff -k -j1 --halt soon,fail=2 "echo {}; exit {}" ::: 0 1 0 2 0 0'
both halt_success 'ff -k -j1 --halt now,success=1 "echo {}; exit {}" ::: 1 2 0 3'
both halt_percent 'ff -k -j1 --halt soon,fail=20% "echo {}; exit {}" ::: 0 1 0 0 1 0 0 0 0 0'
both halt_percent_not_met 'ff -k -j1 --halt now,fail=30% "echo {}; exit {}" ::: 0 1 0 0 1 0 0 0 0 0'
both halt_done_signal 'ff -k -j1 --halt now,done=2 "echo {}; kill -{} \$\$" ::: 15 0 0'
both tag 'ff -k --tag "printf \"x\ny\"; exit {}" ::: 0 1 ::: "a b"'
both tagstring 'ff -k --tagstring "<{}>{#}" echo ::: a b'
both results_product 'ff -k --results out "echo {1}{2}; exit 1" ::: a "b/c" ::: 1 ""'
both results_colsep_stdin 'printf "a,b\nc\\\\,d\n" | ff -k --colsep , --results out echo {2}'
both eta_bar 'ff -k --eta --bar echo ::: a b'
