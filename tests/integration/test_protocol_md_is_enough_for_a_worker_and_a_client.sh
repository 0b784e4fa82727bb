#   docs/PROTOCOL.md is enough to join fanfold from another language: a
#   worker (protocol_worker.py) and a producer/consumer (protocol_client.py)
#   written from that page alone complete jobs with -w 0, and their output
#   equals --serial: noop over records, exec over awkward arguments (the
#   quoting of section 8), exec with --pipe, and intake to emit.
. "$(dirname "$0")/lib.sh"
here="$ROOT/tests/integration"
sed "s|/local/|/protocol-md/|" "$ROOT/topology/local.zpl" > "$SCRATCH/topology.zpl"
topology="$SCRATCH/topology.zpl"

# run_with_worker IN OUT ARGS...: a -w 0 job on stdin IN served by the
# protocol worker alone (a background job's stdin is /dev/null unless named)
run_with_worker () {
    local in=$1 out=$2
    shift 2
    timeout 60 "$BIN/fanfold" run -t "$topology" -w 0 "$@" < "$in" > "$out" &
    local job=$!
    timeout 60 "$PY" "$here/protocol_worker.py" -t "$topology" &
    local worker=$!
    wait $job || fail "the job $* failed"
    wait $worker || fail "the protocol worker did not exit 0 at the job's end ($*)"
}

utf8_lines 2000 "$SCRATCH/in.txt"
run_with_worker "$SCRATCH/in.txt" "$SCRATCH/noop.txt" --pipe --lines 7 -K noop
same "$SCRATCH/in.txt" "$SCRATCH/noop.txt" "noop over records through the protocol worker"

args=(alpha "two words" "it's" "'a" "" "dir/sub/file.tar.gz" "/" "a/b/" "x;y" "ünï
line" "-dash" "\$HOME" "{}")
cmd='printf "[%s]" {} {.} {/} {//} {/.} {#}; echo'
run_with_worker /dev/null "$SCRATCH/exec.jsonl" --format jsonl --exec "$cmd" -- "${args[@]}"
"$BIN/fanfold" run --serial --format jsonl --exec "$cmd" -- "${args[@]}" > "$SCRATCH/exec-serial.jsonl"
same "$SCRATCH/exec-serial.jsonl" "$SCRATCH/exec.jsonl" "exec replacement strings and quoting vs --serial"

run_with_worker /dev/null "$SCRATCH/noword.jsonl" --format jsonl --exec 'echo' -- "${args[@]}"
"$BIN/fanfold" run --serial --format jsonl --exec 'echo' -- "${args[@]}" > "$SCRATCH/noword-serial.jsonl"
same "$SCRATCH/noword-serial.jsonl" "$SCRATCH/noword.jsonl" "exec without replacement strings vs --serial"

timeout 60 "$BIN/fanfold" run -t "$topology" -w 0 --format jsonl --retries 2 --exec 'test {} != b' -- a b c \
    > "$SCRATCH/fail.jsonl" &
job=$!
timeout 60 "$PY" "$here/protocol_worker.py" -t "$topology" || fail "the protocol worker failed (failing command)"
status=0
wait $job || status=$?
[ $status = 1 ] || fail "a job with one failing command exits $status, not 1"
"$BIN/fanfold" run --serial --format jsonl --retries 2 --exec 'test {} != b' -- a b c > "$SCRATCH/fail-serial.jsonl" || true
same "$SCRATCH/fail-serial.jsonl" "$SCRATCH/fail.jsonl" "a failing command's error record vs --serial"

run_with_worker "$SCRATCH/in.txt" "$SCRATCH/md5.txt" --pipe --lines 10 --exec md5sum
"$BIN/fanfold" run --serial --pipe --lines 10 --exec md5sum < "$SCRATCH/in.txt" > "$SCRATCH/md5-serial.txt"
same "$SCRATCH/md5-serial.txt" "$SCRATCH/md5.txt" "exec with --pipe vs --serial"

intake="ipc://$SCRATCH/intake" emit="ipc://$SCRATCH/emit"
head -200 "$SCRATCH/in.txt" > "$SCRATCH/in200.txt"
timeout 60 "$BIN/fanfold" run -t "$topology" -w 0 -K noop --intake "$intake" --emit "$emit" &
job=$!
timeout 60 "$PY" "$here/protocol_worker.py" -t "$topology" &
worker=$!
timeout 60 "$PY" "$here/protocol_client.py" consume "$emit" > "$SCRATCH/emitted.txt" &
consumer=$!
timeout 60 "$PY" "$here/protocol_client.py" produce "$intake" < "$SCRATCH/in200.txt" \
    || fail "the producer failed"
wait $consumer || fail "the consumer failed"
wait $job || fail "the intake/emit job failed"
wait $worker || fail "the protocol worker of the intake job failed"
same "$SCRATCH/in200.txt" "$SCRATCH/emitted.txt" "intake to emit through the protocol worker"
no_stage_left "$SCRATCH"
