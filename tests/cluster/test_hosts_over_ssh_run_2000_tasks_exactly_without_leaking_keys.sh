#   fanfold run --hosts 2/h1,2/h2,2/h3: three namespace hosts with an sshd
#   each; 2,000 tasks come back exact, workers ran on every host, and no
#   secret key of the job appears in /proc/PID/cmdline or environ of any
#   process while it runs (checked every 100 ms).
. "$(dirname "$0")/lib.sh"
hosts_up 3
sshd_up
seq 1 2000 > "$SCRATCH/in.txt"
start=$(now)
FANFOLD_SSH="$SSH_CMD" "$BIN/fanfold" run -v --hosts 2/h1,2/h2,2/h3 --remote-bin "$BIN/fanfold" \
    --pipe --lines 1 -K sleep -p ms=5 < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" 2> "$SCRATCH/err" &
job=$!
/usr/bin/python3 "$(dirname "$0")/scan_secrets.py" $job "$SCRATCH/scan" &
scanner=$!
wait $job || fail "the job failed: $(tail -n 20 "$SCRATCH/err")"
took=$(elapsed "$start")
wait $scanner
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output across three ssh hosts"
clean_log "$SCRATCH/err"
for k in 1 2 3; do
    grep -q "host h$k: .* 2 workers started" "$SCRATCH/err" \
        || fail "h$k started no workers: $(grep "host h$k" "$SCRATCH/err" | head -5)"
done
read -r _ samples _ secrets _ processes _ workers _ leaks < "$SCRATCH/scan"
[ "$leaks" = 0 ] || fail "secret keys on a command line or in an environment: $(tail -n +2 "$SCRATCH/scan")"
[ "$secrets" -ge 2 ] || fail "the scanner found no secret to look for: $(cat "$SCRATCH/scan")"
[ "$workers" -ge 6 ] || fail "the scanner saw $workers remote workers, not 6: $(cat "$SCRATCH/scan")"
hosts=$(grep -o "joined on tcp" "$SCRATCH/err" | wc -l)
[ "$hosts" -ge 6 ] || fail "$hosts workers joined, not 6: $(grep -i 'host\|joined' "$SCRATCH/err" | head)"
pgrep -f "remote-workers" >/dev/null && fail "a remote launcher is left: $(pgrep -af remote-workers)"
echo "cluster: 2,000 tasks over ssh on 3 hosts in ${took}s, exact; $samples scans of every process found none of $secrets secret keys ($workers remote workers seen)"
