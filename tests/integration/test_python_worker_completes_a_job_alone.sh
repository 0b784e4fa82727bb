#   A -t topology/local.zpl -w 0 job is completed by the Python worker of
#   examples/python alone (written from docs/PROTOCOL.md), with exact output,
#   for noop over records and for exec over arguments.
. "$(dirname "$0")/lib.sh"
topology="$ROOT/topology/local.zpl"
utf8_lines 3000 "$SCRATCH/in.txt"
"$BIN/fanfold" run -t "$topology" -w 0 --pipe --lines 7 -K noop < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" &
job=$!
"$PY" "$ROOT/examples/python/worker.py" -t "$topology" &
worker=$!
wait $job || fail "the job failed"
wait $worker || fail "the Python worker did not exit cleanly at the job's end"
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "noop through the Python worker"

args=(alpha "two words" "it's")
"$BIN/fanfold" run -t "$topology" -w 0 --format jsonl --exec 'echo {} | wc -c' -- "${args[@]}" \
    > "$SCRATCH/py.jsonl" &
job=$!
"$PY" "$ROOT/examples/python/worker.py" -t "$topology" &
worker=$!
wait $job || fail "the exec job failed"
wait $worker || true
"$BIN/fanfold" run --serial --format jsonl --exec 'echo {} | wc -c' -- "${args[@]}" > "$SCRATCH/c.jsonl"
same "$SCRATCH/c.jsonl" "$SCRATCH/py.jsonl" "exec through the Python worker vs --serial"
