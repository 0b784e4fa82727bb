#   Helpers for the warm-pool tests (sourced after lib.sh): a private
#   topology whose ipc endpoints live in $SCRATCH, `fanfold serve` in the
#   background, waiting until it serves, and stopping it with a check that
#   it left no process, ipc file or segment behind.
POOL="$SCRATCH/pool.zpl"
POOL_PID=

# pool_topology: writes $POOL (fast heartbeats: a dead worker is seen in 1 s)
pool_topology () {
    mkdir -p -m 700 "$SCRATCH/ipc"
    cat > "$POOL" <<ZPL
fanfold
    heartbeat_ms = 100
    worker_timeout_ms = 1000
    client_timeout_ms = 600
ventilator
    control = "ipc://$SCRATCH/ipc/control"
    tasks = "ipc://$SCRATCH/ipc/task"
sink
    results = "ipc://$SCRATCH/ipc/results"
server
    clients = "ipc://$SCRATCH/ipc/clients"
ZPL
}

# pool_workers: the number of workers the pool's status lists (0 if none answers)
pool_workers () {
    "$BIN/fanfold" status -t "$POOL" --format jsonl 2>/dev/null | grep -c '"kind":"worker"' || true
}

# pool_start N: fanfold serve -w N in the background; waits until the
# server answers and N workers joined (at most 10 s)
pool_start () {
    [ -f "$POOL" ] || pool_topology
    setsid "$BIN/fanfold" serve -t "$POOL" -w "$1" -v 2> "$SCRATCH/serve.log" &
    POOL_PID=$!
    local tries=0
    until [ "$(pool_workers)" -ge "$1" ] && "$BIN/fanfold" status -t "$POOL" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { tail -20 "$SCRATCH/serve.log" >&2; fail "the pool did not start"; }
        sleep 0.1
    done
}

# pool_stop: SIGTERM to fanfold serve; then nothing of the pool is left
pool_stop () {
    kill -TERM "$POOL_PID"
    local rc=0
    wait "$POOL_PID" || rc=$?
    [ "$rc" = 0 ] || { tail -20 "$SCRATCH/serve.log" >&2; fail "fanfold serve exited $rc"; }
    local left
    left=$(pgrep -f "fanfold-(server|worker) -t $POOL" || true)
    [ -z "$left" ] || fail "pool processes left: $left"
    left=$(ls "$SCRATCH/ipc")
    [ -z "$left" ] || fail "ipc files left: $left"
}

# job_of PID: the id of the job whose client is the process PID ("" if none)
job_of () {
    "$BIN/fanfold" status -t "$POOL" --format jsonl 2>/dev/null \
        | grep '"kind":"job"' | grep ":$1\"" | sed 's/.*"job":"\([^"]*\)".*/\1/' | head -1 || true
}
