#   A plugin kernel that kills its worker on one line of 20,000 tiny tasks:
#   tiny tasks travel in batches, so the worker dies with finished
#   neighbours in its message. With --retries 2 only the poison line
#   becomes an error record; every neighbour finishes "ok".
. "$(dirname "$0")/lib.sh"
cat > "$SCRATCH/poison.c" <<'CEOF'
#include <fanfold/kernel.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int
s_run (const ff_task_t *task, ff_result_t *result)
{
    if (task->size == 6 && memcmp (task->data, "15000\n", 6) == 0)
        kill (getpid (), SIGKILL);
    return ff_buf_append (&result->data, task->data, task->size);
}

static const ff_kernel_t s_kernels [] = {
    { FF_KERNEL_ABI, 0, "poison", NULL, s_run, NULL }
};

const ff_kernel_t *
ff_plugin_kernels (size_t *count)
{
    *count = 1;
    return s_kernels;
}
CEOF
cc -shared -fPIC -I"$ROOT/include" -o "$SCRATCH/poison.so" "$SCRATCH/poison.c" \
    || fail "cannot build the plugin"
rc=0
seq 1 20000 | "$BIN/fanfold" run -v -w 2 --retries 2 --plugin "$SCRATCH/poison.so" -K poison \
    --pipe --lines 1 --format jsonl > "$SCRATCH/out.jsonl" 2> "$SCRATCH/err" || rc=$?
[ "$rc" = 1 ] || { tail "$SCRATCH/err"; fail "exit status $rc, expected 1"; }
"$PY" - "$SCRATCH/out.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["seq"] for r in rows] == list(range(20000)), "seqs are not dense"
bad = [r for r in rows if r["status"] != "ok"]
assert len(bad) == 1 and bad[0]["seq"] == 14999, bad[:5]
assert "failed 2 times" in bad[0]["error"], bad[0]
assert all(r["result"]["text"] == "%d\n" % (r["seq"] + 1) for r in rows if r["status"] == "ok")
PYEOF
# the poison did share a message: its first death charged nobody
grep -q "ended with status 137" "$SCRATCH/err" || fail "no worker was killed: $(tail "$SCRATCH/err")"
grep -Eq "job ended after [0-9]+ tasks in [0-9]+ messages" "$SCRATCH/err" || fail "no worker summary"
"$PY" - "$SCRATCH/err" <<'PYEOF'
import re, sys
pairs = [(int(t), int(m)) for t, m in re.findall(r"job ended after (\d+) tasks in (\d+) messages", open(sys.argv[1]).read())]
assert any(t > 2 * m for t, m in pairs), "tasks did not travel in batches: %s" % pairs
PYEOF
