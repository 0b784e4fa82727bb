#   --exec gives the same bytes as GNU parallel -k: arguments with spaces,
#   quotes, $, ;, *, a leading -, non-ASCII; --pipe --lines 10 --exec md5sum
#   against parallel --pipe -N10 on a 2,000-line file (with empty lines: 200
#   blocks, each a GNU parallel job that costs 80 ms on a machine whose
#   process starts are slow);
#   --serial agrees; a failing command is an error record with its status.
. "$(dirname "$0")/lib.sh"
args=("a b" "it's" 'say "hi"' '$HOME' "x;y" "*" "-n" "日本語" "back\\slash" "tab	in" '`id`' "")
cmd='printf "%s|\n" {} | rev'
"$BIN/fanfold" run -w 2 --exec "$cmd" -- "${args[@]}" > "$SCRATCH/ff.txt"
parallel -k -j2 "$cmd" ::: "${args[@]}" > "$SCRATCH/parallel.txt"
same "$SCRATCH/parallel.txt" "$SCRATCH/ff.txt" "--exec vs parallel -k"
"$BIN/fanfold" run --serial --exec "$cmd" -- "${args[@]}" > "$SCRATCH/serial.txt"
same "$SCRATCH/parallel.txt" "$SCRATCH/serial.txt" "--serial --exec vs parallel -k"
# replacement strings other than {}
paths=("dir/sub/file.tar.gz" "plain" "/abs/x.y")
tpl='echo {} {.} {/} {//} {/.} {#}'
"$BIN/fanfold" run -w 2 --exec "$tpl" -- "${paths[@]}" > "$SCRATCH/ff2.txt"
parallel -k "$tpl" ::: "${paths[@]}" > "$SCRATCH/parallel2.txt"
same "$SCRATCH/parallel2.txt" "$SCRATCH/ff2.txt" "replacement strings"

utf8_lines 2000 "$SCRATCH/in.txt"
"$BIN/fanfold" run -w 2 --pipe --lines 10 --exec md5sum < "$SCRATCH/in.txt" > "$SCRATCH/ff3.txt"
parallel --pipe -N10 -k md5sum < "$SCRATCH/in.txt" > "$SCRATCH/parallel3.txt"
same "$SCRATCH/parallel3.txt" "$SCRATCH/ff3.txt" "--pipe --lines 10 --exec md5sum"

# a command that fails: an error record with its exit status, exit 1
rc=0
"$BIN/fanfold" run -w 2 --retries 1 --format jsonl --exec 'test {} != bad' -- good bad good \
    > "$SCRATCH/jsonl" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "a failing command: exit $rc, expected 1"
"$PY" - "$SCRATCH/jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["status"] for r in rows] == ["ok", "error", "ok"], rows
assert rows[1]["exit"] == 1 and "status 1" in rows[1]["error"], rows[1]
assert rows[0]["result"]["exit"] == 0, rows[0]
PYEOF
