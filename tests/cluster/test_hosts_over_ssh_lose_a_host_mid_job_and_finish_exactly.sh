#   Three ssh hosts and one that does not exist: the missing one is named
#   at once and the job goes on; mid-job one host's link goes down
#   (ip link set ... down in its namespace): its tasks finish on the
#   other two after the heartbeat loss, with exact output, and the job
#   does not wait for ssh or TCP timeouts.
. "$(dirname "$0")/lib.sh"
hosts_up 3
sshd_up
seq 1 2000 > "$SCRATCH/in.txt"
start=$(now)
FANFOLD_SSH="$SSH_CMD" "$BIN/fanfold" run -v --hosts 2/h1,2/h2,2/h3,2/nosuchhost \
    --remote-bin "$BIN/fanfold" --pipe --lines 1 -k sleep -p ms=20 \
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
grep -q "host nosuchhost: .*not in the job" "$SCRATCH/err" \
    || fail "the missing host was not named: $(grep -i nosuchhost "$SCRATCH/err" | head -3)"
grep -q "silent\|dead\|lost\|timed out" "$SCRATCH/err" \
    || fail "no worker was declared dead: $(grep worker "$SCRATCH/err" | tail -5)"
below () { [ "$(echo "$1 < $2" | bc)" = 1 ] || fail "$3: $1 is not below $2"; }
below "$after" 30 "seconds from the cut to the end of the job"
echo "cluster: lost h2 mid-job (link down), 2,000 tasks exact on h1 and h3 in ${took}s (${after}s after the cut); nosuchhost named and skipped"
