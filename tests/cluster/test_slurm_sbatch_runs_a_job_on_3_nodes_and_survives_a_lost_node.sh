#   A Slurm cluster started here (munged, slurmctld, one slurmd per
#   namespace host): `sbatch -N 3 scripts/fanfold.sbatch ...` runs 2,000
#   tasks with workers on the three nodes, exact, and scontrol shows the
#   job COMPLETED. A second job loses a node mid-job (its slurmd, its step
#   and workers killed): no task is lost, the output is exact.
. "$(dirname "$0")/lib.sh"
hosts_up 3
slurm_up
seq 1 2000 > "$SCRATCH/in.txt"
chmod 755 "$SCRATCH"

# wait_job ID SECONDS: until the job left the queue (or fail)
wait_job () {
    local tries=0
    while squeue -h -j "$1" 2>/dev/null | grep -q .; do
        tries=$((tries + 1))
        [ $tries -lt $(($2 * 5)) ] || fail "job $1 still queued or running: $(squeue; cat "$SCRATCH"/job-*.log)"
        sleep 0.2
    done
}

start=$(now)
id=$(cd "$SCRATCH" && sbatch --parsable -N 3 --ntasks-per-node=2 --output="$SCRATCH/job-%j.log" \
        --export=ALL,FANFOLD="$BIN/fanfold" "$ROOT/scripts/fanfold.sbatch" \
        -v -o "$SCRATCH/out.txt" --pipe --lines 1 -K sleep -p ms=5 --input "$SCRATCH/in.txt")
wait_job "$id" 60
took=$(elapsed "$start")
[ -s "$SCRATCH/out.txt" ] || fail "no output: $(cat "$SCRATCH"/job-*.log)"
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output of the sbatch job"
clean_log "$SCRATCH/job-$id.log"
state=$(scontrol show job "$id" | grep -o 'JobState=[A-Z]*' || true)
[ "$state" = JobState=COMPLETED ] || fail "job $id: $state: $(tail -n 20 "$SCRATCH/job-$id.log")"
nodes=$(grep -o 'host n[0-9]: .* 2 workers started' "$SCRATCH/job-$id.log" | cut -d: -f1 | sort -u | wc -l)
[ "$nodes" = 3 ] || fail "workers started on $nodes nodes, not 3: $(grep -i 'started\|host' "$SCRATCH/job-$id.log" | head)"
joined=$(grep -c 'joined on tcp' "$SCRATCH/job-$id.log" || true)
[ "$joined" -ge 6 ] || fail "$joined workers joined, not 6"
echo "cluster: sbatch -N 3: 2,000 tasks exact on 3 nodes ($joined workers) in ${took}s, $state"

# node loss: n2's slurmd, step and workers are killed mid-job
start=$(now)
id=$(cd "$SCRATCH" && sbatch --parsable -N 3 --ntasks-per-node=2 --output="$SCRATCH/job-%j.log" \
        --export=ALL,FANFOLD="$BIN/fanfold" "$ROOT/scripts/fanfold.sbatch" \
        -v -o "$SCRATCH/lost.txt" --pipe --lines 1 -K sleep -p ms=20 --input "$SCRATCH/in.txt")
for _ in $(seq 1 150); do
    n=$(grep -c 'joined on tcp' "$SCRATCH/job-$id.log" 2>/dev/null || true)
    [ "${n:-0}" -ge 6 ] && break
    sleep 0.1
done
sleep 1
kill -KILL $(ip netns pids "${HOST_NS[2]}")
cut=$(now)
# the output is whole once the tasks of n2 ran elsewhere (the Slurm job
# itself stays COMPLETING until slurmctld gives n2 up, SlurmdTimeout)
for _ in $(seq 1 600); do
    cmp -s "$SCRATCH/in.txt" "$SCRATCH/lost.txt" && break
    sleep 0.1
done
after=$(elapsed "$cut")
wait_job "$id" 90
same "$SCRATCH/in.txt" "$SCRATCH/lost.txt" "output after losing node n2"
clean_log "$SCRATCH/job-$id.log"
for worker in $(grep -o 'host n2: fanfold-worker: joined job .* as worker [0-9]*' "$SCRATCH/job-$id.log" | awk '{print $NF}'); do
    grep -q "fanfold-ventilator: worker $worker .*\(disconnected\|silent\|dead\|timed out\).*go to others" "$SCRATCH/job-$id.log" \
        || fail "n2's worker $worker was not given up: $(grep "ventilator: worker $worker" "$SCRATCH/job-$id.log")"
done
echo "cluster: node n2 killed mid-job (slurmd, step, workers): 2,000 tasks exact in $(elapsed "$start")s, ${after}s after the loss"
