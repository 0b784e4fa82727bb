#   fanfold keygen writes certificates; a tcp topology with CURVE runs a
#   job; a worker with an unknown key receives zero tasks while an
#   authorised one completes the job; a tcp bind without keys is refused
#   unless --insecure. Then the same across two network namespaces (two
#   hosts on a private veth link), where namespaces can be made.
. "$(dirname "$0")/lib.sh"
"$BIN/fanfold" keygen "$SCRATCH/keys" 2>/dev/null
"$BIN/fanfold" keygen "$SCRATCH/other" 2>/dev/null
for file in server.cert server.cert_secret client.cert_secret allowed/client.cert; do
    [ -s "$SCRATCH/keys/$file" ] || fail "keygen did not write $file"
done
port=$((20000 + RANDOM % 20000))
topology () {           # file host client-secret [no-security]
    {
        printf 'fanfold\n    heartbeat_ms = 100\n    worker_timeout_ms = 1000\n'
        printf 'ventilator\n    host = "%s"\n    control = "tcp://*:%d"\n    tasks = "tcp://*:*"\n' "$2" "$port"
        printf 'sink\n    host = "%s"\n    results = "tcp://*:%d"\n' "$2" $((port + 1))
        [ -n "${4:-}" ] || printf 'security\n    server_secret = "%s/keys/server.cert_secret"\n    server_public = "%s/keys/server.cert"\n    client_secret = "%s"\n    allowed = "%s/keys/allowed"\n' \
            "$SCRATCH" "$SCRATCH" "$3" "$SCRATCH"
    } > "$1"
}
topology "$SCRATCH/good.zpl" 127.0.0.1 "$SCRATCH/keys/client.cert_secret"
topology "$SCRATCH/intruder.zpl" 127.0.0.1 "$SCRATCH/other/client.cert_secret"
topology "$SCRATCH/plain.zpl" 127.0.0.1 "" no-security
seq 1 300 > "$SCRATCH/in.txt"

# the intruder joins first and stays; the authorised worker comes later
"$BIN/fanfold" worker -v -t "$SCRATCH/intruder.zpl" 2> "$SCRATCH/intruder.err" &
intruder=$!
"$BIN/fanfold" run -t "$SCRATCH/good.zpl" -w 0 --pipe --lines 1 -K sleep -p ms=2 \
    < "$SCRATCH/in.txt" > "$SCRATCH/out.txt" &
job=$!
sleep 1.5
"$BIN/fanfold" worker -t "$SCRATCH/good.zpl" &
wait $job || fail "the CURVE job failed"
kill $intruder 2>/dev/null || true
wait $intruder 2>/dev/null || true
same "$SCRATCH/in.txt" "$SCRATCH/out.txt" "output over tcp with CURVE"
grep -q "joined" "$SCRATCH/intruder.err" && fail "the worker with an unknown key joined"
grep -q "stopped after 0 tasks" "$SCRATCH/intruder.err" || fail "intruder: $(cat "$SCRATCH/intruder.err")"

# no keys: refused, unless --insecure
rc=0
"$BIN/fanfold" run -t "$SCRATCH/plain.zpl" -w 1 -K noop a b > /dev/null 2> "$SCRATCH/err" || rc=$?
[ "$rc" = 2 ] && grep -q "refusing to bind tcp" "$SCRATCH/err" || fail "tcp without keys: rc $rc: $(cat "$SCRATCH/err")"
[ "$("$BIN/fanfold" run -t "$SCRATCH/plain.zpl" -w 1 --insecure -K noop a b)" = ab ] || fail "--insecure"

# two hosts: network namespaces on a private link
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add ff-probe-$$ 2>/dev/null; then
    echo "SKIPPED the two-namespace part: cannot make network namespaces here"
    exit 0
fi
ip netns del ff-probe-$$
main=ff-main-$$
peer=ff-peer-$$
cleanup_netns () { ip netns del $main 2>/dev/null; ip netns del $peer 2>/dev/null; }
trap 'status=$?; cleanup_netns; (exit $status); finish' EXIT
ip netns add $main && ip netns add $peer
ip link add ff-a-$$ type veth peer name ff-b-$$
ip link set ff-a-$$ netns $main && ip link set ff-b-$$ netns $peer
ip -n $main addr add 10.213.0.1/30 dev ff-a-$$ && ip -n $main link set ff-a-$$ up && ip -n $main link set lo up
ip -n $peer addr add 10.213.0.2/30 dev ff-b-$$ && ip -n $peer link set ff-b-$$ up && ip -n $peer link set lo up
topology "$SCRATCH/hosts.zpl" 10.213.0.1 "$SCRATCH/keys/client.cert_secret"
topology "$SCRATCH/hosts-intruder.zpl" 10.213.0.1 "$SCRATCH/other/client.cert_secret"
ip netns exec $peer "$BIN/fanfold" worker -v -t "$SCRATCH/hosts-intruder.zpl" 2> "$SCRATCH/ns-intruder.err" &
intruder=$!
ip netns exec $main "$BIN/fanfold" run -t "$SCRATCH/hosts.zpl" -w 0 --pipe --lines 1 -K sleep -p ms=2 \
    < "$SCRATCH/in.txt" > "$SCRATCH/hosts.txt" &
job=$!
sleep 1
ip netns exec $peer "$BIN/fanfold" worker -v -t "$SCRATCH/hosts.zpl" 2> "$SCRATCH/ns-worker.err" &
wait $job || fail "the two-host job failed: $(tail "$SCRATCH/ns-worker.err")"
kill $intruder 2>/dev/null || true
wait $intruder 2>/dev/null || true
same "$SCRATCH/in.txt" "$SCRATCH/hosts.txt" "output across two namespaces"
grep -q "joined" "$SCRATCH/ns-intruder.err" && fail "the unknown key joined across hosts"
echo "two namespaces: the job crossed a veth link with CURVE; the unknown key got nothing"
