#   Three ssh hosts and one that does not exist (from --hosts-file): the missing one is named
#   at once and the job goes on; mid-job one host's link goes down
#   (ip link set ... down in its namespace): its tasks finish on the
#   other two after the heartbeat loss, with exact output, and the job
#   does not wait for ssh or TCP timeouts. The job's topology comes from
#   -t with fixed control and results ports and the task pipes in a port
#   range (what a firewall opens); --hosts gives it the job's own keys.
. "$(dirname "$0")/lib.sh"
hosts_up 3
sshd_up
seq 1 2000 > "$SCRATCH/in.txt"
base=$((20000 + TAG % 20000))
printf 'fanfold\n    heartbeat_ms = 100\n    worker_timeout_ms = 1500\nventilator\n    host = "%s"\n    control = "tcp://*:%d"\n    tasks = "tcp://*:*[%d-%d]"\nsink\n    host = "%s"\n    results = "tcp://*:%d"\n' \
    "$NET.1" $base $((base + 10)) $((base + 19)) "$NET.1" $((base + 1)) > "$SCRATCH/hosts.zpl"
start=$(now)
printf '# the hosts of this job\n2/h1\n2/h2, 2/h3\n\n2/nosuchhost   # not there\n' > "$SCRATCH/hosts.txt"
FANFOLD_SSH="$SSH_CMD" "$BIN/fanfold" run -v -t "$SCRATCH/hosts.zpl" --hosts-file "$SCRATCH/hosts.txt" \
    --remote-bin "$BIN/fanfold" --pipe --lines 1 -K sleep -p ms=20 \
    < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" 2> "$SCRATCH/err" &
job=$!
# once h2's workers hold tasks, cut its link
for _ in $(seq 1 100); do
    [ "$(grep -c 'joined on tcp' "$SCRATCH/err" || true)" -ge 6 ] && break
    sleep 0.05
done
sleep 1
host_link 2 down
cut=$(now)
wait $job || fail "the job failed after h2 was cut off: $(tail -n 20 "$SCRATCH/err")"
took=$(elapsed "$start")
after=$(elapsed "$cut")
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output after losing h2"
clean_log "$SCRATCH/err"
grep -q "host nosuchhost: .*not in the job" "$SCRATCH/err" \
    || fail "the missing host was not named: $(grep -i nosuchhost "$SCRATCH/err" | head -3)"
grep -q "silent\|dead\|lost\|timed out" "$SCRATCH/err" \
    || fail "no worker was declared dead: $(grep worker "$SCRATCH/err" | tail -5)"
below () { [ "$(echo "$1 < $2" | bc)" = 1 ] || fail "$3: $1 is not below $2"; }
below "$after" 30 "seconds from the cut to the end of the job"
[ "$(grep -c 'joined on tcp' "$SCRATCH/err")" -ge 6 ] || fail "fewer than 6 workers joined"
for port in $(grep -o 'joined on tcp://[0-9.]*:[0-9]*' "$SCRATCH/err" | sed 's/.*://'); do
    [ "$port" -ge $((base + 10)) ] && [ "$port" -le $((base + 19)) ] \
        || fail "a task pipe on port $port, outside $((base + 10))-$((base + 19))"
done
echo "cluster: lost h2 mid-job (link down), 2,000 tasks exact on h1 and h3 in ${took}s (${after}s after the cut); nosuchhost named and skipped; task pipes in the topology's port range"
