#   -K stats --chunk 4M over a 100 MB float32 .npy, an int16 and a 2-D
#   float64 one: one folded line per array, equal to numpy in double
#   (sum, mean to 1e-9, std to 1e-7, min, max, count exact); a worker with
#   --no-shm gives the same bytes; while the job runs no segment is made
#   (a .npy is mapped in place: the ventilator and the workers map the
#   file itself), afterwards none is left; after kill -9 of every stage,
#   `fanfold clean` leaves nothing either. --mode auto starts the stages
#   for one array that --chunk splits, and not for one it leaves whole.
. "$(dirname "$0")/lib.sh"
"$PY" - "$SCRATCH" <<'PYEOF'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
np.save(d + "/f32.npy", (rng.standard_normal(25_000_000) * 100 + 3).astype(np.float32))
np.save(d + "/i16.npy", rng.integers(-30000, 30000, size=3_000_001).astype(np.int16))
np.save(d + "/f64.npy", rng.standard_normal((1000, 1234)))
PYEOF
arrays=("$SCRATCH/f32.npy" "$SCRATCH/i16.npy" "$SCRATCH/f64.npy")
mine="ff_$(id -u)_"
"$BIN/fanfold" run -w 2 -K stats --chunk 4M --format jsonl -- "${arrays[@]}" > "$SCRATCH/stats.jsonl"
"$PY" - "$SCRATCH/stats.jsonl" "${arrays[@]}" <<'PYEOF'
import json, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
for row, path in zip(rows, sys.argv[2:]):
    a = np.load(path).astype(np.float64).ravel()
    r = row["result"]
    assert row["input"] == path and row["status"] == "ok"
    assert r["count"] == a.size and r["min"] == a.min() and r["max"] == a.max(), (path, r)
    assert abs(r["sum"] - a.sum()) <= 1e-9 * abs(a.sum()), (path, r["sum"], a.sum())
    assert abs(r["mean"] - a.mean()) <= 1e-9 * abs(a.mean()), (path, r["mean"], a.mean())
    assert abs(r["std"] - a.std()) <= 1e-7 * a.std(), (path, r["std"], a.std())
PYEOF
"$BIN/fanfold" run --serial -K stats --chunk 4M --format jsonl -- "${arrays[@]}" \
    | cmp - "$SCRATCH/stats.jsonl" || fail "--serial differs"
[ -z "$(ls /dev/shm | grep "^$mine" || true)" ] || fail "segments left after the job: $(ls /dev/shm)"

# --mode auto: one array that --chunk splits is many tasks (parallel);
# the same array unsplit is one task (serial)
"$BIN/fanfold" run -w 2 -v -K stats --chunk 4M -- "$SCRATCH/f32.npy" 2>&1 >/dev/null \
    | grep -q "mode auto: parallel" \
    || fail "--mode auto ran one chunked array in serial"
"$BIN/fanfold" run -w 2 -v -K stats -- "$SCRATCH/f32.npy" 2>&1 >/dev/null \
    | grep -q "mode auto: serial (a single task)" || fail "--mode auto started the stages for one task"
"$BIN/fanfold" run -w 2 -v -K noop a b 2>&1 >/dev/null | grep -q "mode auto: serial" \
    || fail "--mode auto started the stages for two noop arguments"

# a worker that cannot map the segments gets the bytes instead: same output
topology="$ROOT/topology/local.zpl"
"$BIN/fanfold" run -t "$topology" -w 0 -K stats --chunk 4M --format jsonl -- "${arrays[@]}" \
    > "$SCRATCH/noshm.jsonl" &
job=$!
"$BIN/fanfold" worker -t "$topology" --no-shm &
wait $job || fail "the --no-shm job failed"
same "$SCRATCH/stats.jsonl" "$SCRATCH/noshm.jsonl" "--no-shm worker"

# while in flight: the file is mapped by the worker, and no segment made;
# a slow job over many chunks
setsid "$BIN/fanfold" run -w 1 -K stats --chunk 16k --format jsonl -- "${arrays[@]}" \
    > "$SCRATCH/slow.jsonl" 2>/dev/null &
job=$!
seen=""
for _ in $(seq 750); do
    for pid in $(pgrep -g $job -f fanfold-worker || true); do
        grep -qE "$SCRATCH/(f32|i16|f64).npy" "/proc/$pid/maps" 2>/dev/null && seen=$pid
    done
    [ -n "$seen" ] && break
    sleep 0.02
done
[ -n "$seen" ] || fail "no worker mapped an array of $SCRATCH while the job ran"
[ -z "$(ls /dev/shm | grep "^$mine" || true)" ] || fail "a .npy made segments: $(ls /dev/shm | grep "^$mine")"
# kill -9 every stage in the middle of the job, then clean
sleep 0.2
kill -9 -- -$job 2>/dev/null || true
wait $job 2>/dev/null || true
# SIGKILL lands asynchronously (a stage copying into shared memory may take a
# moment): clean only once every stage of the group is gone
for _ in $(seq 100); do
    pgrep -g $job > /dev/null || break
    sleep 0.05
done
left=$(ls /dev/shm | grep "^$mine" || true)
echo "segments left by kill -9: $(echo $left | wc -w)"
"$BIN/fanfold" clean
[ -z "$(ls /dev/shm | grep "^$mine" || true)" ] || fail "fanfold clean left segments: $(ls /dev/shm)"

# bad arrays: a clear error record naming the file, the others unaffected
head -c 40 "$SCRATCH/i16.npy" > "$SCRATCH/truncated.npy"
"$PY" -c "import numpy as np, sys; np.save(sys.argv[1], np.arange(10, dtype='>f8')); np.save(sys.argv[2], np.arange(4, dtype=np.complex128))" \
    "$SCRATCH/big_endian.npy" "$SCRATCH/complex.npy"
rc=0
"$BIN/fanfold" run -w 2 -K stats --format jsonl -- "$SCRATCH/truncated.npy" "$SCRATCH/big_endian.npy" \
    "$SCRATCH/complex.npy" "$SCRATCH/f64.npy" > "$SCRATCH/bad.jsonl" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "bad arrays: exit $rc, expected 1"
"$PY" - "$SCRATCH/bad.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["status"] for r in rows] == ["error", "error", "error", "ok"], rows
assert "truncated.npy: truncated header" in rows[0]["error"], rows[0]
assert "big_endian.npy: unsupported dtype '>f8'" in rows[1]["error"], rows[1]
assert "complex.npy: unsupported dtype" in rows[2]["error"], rows[2]
PYEOF
