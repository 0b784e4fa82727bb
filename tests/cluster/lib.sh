#   Shared helpers of the cluster tests: hosts made of network namespaces
#   on a bridge with private addresses, an sshd in each with a host key and
#   a user key made here, and a cleanup that removes every namespace,
#   link, daemon and file the test made, also when it fails half-way.
#   Tests source it, call hosts_up N, and use $SSH_CMD, $HOST_ADDR [k].
set -euo pipefail
BIN=${FANFOLD_BIN:?FANFOLD_BIN must name the bin directory}
ROOT=${FANFOLD_ROOT:?}
SCRATCH=$(mktemp -d /tmp/fanfold-cluster.XXXXXX)
chmod 700 "$SCRATCH"
TAG=$$
NET=10.214.$((TAG % 250))   # a /24 of private addresses for this test
BRIDGE=ffbr$TAG
NHOSTS=0
declare -a HOST_NS HOST_ADDR
CLEANUPS=()                 # commands run on exit, last first

on_exit () {                # on_exit COMMAND: run at cleanup
    CLEANUPS+=("$1")
}

finish () {
    local status=$? index ns
    set +e
    trap - EXIT
    local left
    left=$(jobs -p)
    [ -n "$left" ] && kill $left 2>/dev/null
    for ((index = ${#CLEANUPS[@]} - 1; index >= 0; index--)); do
        eval "${CLEANUPS[$index]}" >/dev/null 2>&1
    done
    # the host ends of the links: a namespace whose cut-off sockets are
    # still retransmitting outlives its deletion, and would keep its veth
    for ((index = 1; index <= NHOSTS; index++)); do
        ip link del "ffv$TAG$index" 2>/dev/null
    done
    for ns in "${HOST_NS[@]:-}"; do
        [ -n "$ns" ] || continue
        # every process still in the namespace (sshd, its sessions, workers)
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    ip link del "$BRIDGE" 2>/dev/null
    [ -n "$left" ] && wait $left 2>/dev/null
    rm -rf "$SCRATCH"
    exit $status
}
trap finish EXIT

fail () {
    echo "FAILED: $*" >&2
    exit 1
}

skip () {
    echo "SKIPPED: $*"
    exit 77
}

same () {
    cmp -s "$1" "$2" || { cmp "$1" "$2" >&2 || true; fail "$3: $1 and $2 differ"; }
}

now () {
    date +%s.%N
}

elapsed () {
    echo "$(now) - $1" | bc
}

# can_make_namespaces: root, ip, and a namespace can be made (else skip)
need_namespaces () {
    [ "$(id -u)" = 0 ] || skip "not root: cannot make network namespaces"
    command -v ip >/dev/null || skip "no ip command (iproute2)"
    ip netns add "ffprobe$TAG" 2>/dev/null || skip "cannot make network namespaces here"
    ip netns del "ffprobe$TAG"
    ip link add "$BRIDGE" type bridge 2>/dev/null || skip "cannot make a bridge here"
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

# hosts_up N: N namespaces ffh<tag>-k on the bridge, at $NET.1k
hosts_up () {
    local k
    need_namespaces
    NHOSTS=$1
    for ((k = 1; k <= NHOSTS; k++)); do
        local ns=ffh$TAG-$k
        HOST_NS[$k]=$ns
        HOST_ADDR[$k]=$NET.$((10 + k))
        ip netns add "$ns"
        ip link add "ffv$TAG$k" type veth peer name "ffp$TAG$k"
        ip link set "ffp$TAG$k" netns "$ns"
        ip link set "ffv$TAG$k" master "$BRIDGE" up
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "${HOST_ADDR[$k]}/24" dev "ffp$TAG$k"
        ip -n "$ns" link set "ffp$TAG$k" up
        ip -n "$ns" route add default via "$NET.1"
    done
}

# host_link K up|down: the link of host K
host_link () {
    ip -n "${HOST_NS[$1]}" link set "ffp$TAG$1" "$2"
}

# sshd_up: an sshd in every host, a host key each and one user key; then
# SSH_CMD is an ssh command line that reaches them as h1, h2, ...
sshd_up () {
    local k dir=$SCRATCH/ssh
    command -v /usr/sbin/sshd >/dev/null || skip "no sshd (openssh-server)"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ -d /run/sshd ] || { mkdir -p /run/sshd; on_exit "rmdir /run/sshd"; }
    ssh-keygen -q -t ed25519 -N '' -C fanfold-test-user -f "$dir/user_key"
    cp "$dir/user_key.pub" "$dir/authorized_keys"
    : > "$dir/known_hosts"
    {
        echo "Host *"
        echo "    User root"
        echo "    IdentityFile $dir/user_key"
        echo "    IdentitiesOnly yes"
        echo "    UserKnownHostsFile $dir/known_hosts"
        echo "    StrictHostKeyChecking yes"
        echo "    BatchMode yes"
        echo "    LogLevel ERROR"
    } > "$dir/ssh_config"
    for ((k = 1; k <= NHOSTS; k++)); do
        ssh-keygen -q -t ed25519 -N '' -C "fanfold-test-h$k" -f "$dir/host_key_$k"
        echo "${HOST_ADDR[$k]} $(cut -d' ' -f1,2 "$dir/host_key_$k.pub")" >> "$dir/known_hosts"
        printf 'Host h%d\n    HostName %s\n' $k "${HOST_ADDR[$k]}" >> "$dir/ssh_config"
        {
            echo "ListenAddress ${HOST_ADDR[$k]}"
            echo "HostKey $dir/host_key_$k"
            echo "AuthorizedKeysFile $dir/authorized_keys"
            echo "PidFile $dir/sshd_$k.pid"
            echo "PermitRootLogin prohibit-password"
            echo "PasswordAuthentication no"
            echo "KbdInteractiveAuthentication no"
            echo "UsePAM no"
            echo "StrictModes no"
            echo "ClientAliveInterval 2"
            echo "ClientAliveCountMax 3"
        } > "$dir/sshd_config_$k"
        # in the foreground (-D) as this shell's child, so that it is reaped
        ip netns exec "${HOST_NS[$k]}" /usr/sbin/sshd -D -f "$dir/sshd_config_$k" \
            -E "$dir/sshd_$k.log" &
        on_exit "kill $!; wait $!"
    done
    SSH_CMD="ssh -F $dir/ssh_config"
    for ((k = 1; k <= NHOSTS; k++)); do
        local tries=0
        until $SSH_CMD h$k true 2>/dev/null; do
            tries=$((tries + 1))
            [ $tries -lt 50 ] || fail "sshd on h$k does not answer: $(cat "$dir/sshd_$k.log")"
            sleep 0.1
        done
    done
}

# nothing_left: no namespace, bridge or daemon of this test remains
# (called by the test after its own cleanup, from a subshell of the runner)

# slurm_up: a Slurm cluster on the hosts: munged (own key and socket) and
# slurmctld here, one slurmd per host (nodes n1..nN, CPUs=2 each), from a
# config in $SCRATCH/slurm; SLURM_CONF names it for the client commands.
slurm_up () {
    local k dir=$SCRATCH/slurm munge=$SCRATCH/munge
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        || skip "no slurmctld, slurmd or munged (slurm-wlm, munge)"
    mkdir -p "$dir/state" "$munge"
    chmod 700 "$dir" "$munge"
    dd if=/dev/urandom of="$munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$munge/munge.key"
    munged -F --force --key-file="$munge/munge.key" --socket="$munge/munge.socket" \
        --pid-file="$munge/munged.pid" --log-file="$munge/munged.log" \
        --seed-file="$munge/munged.seed" 2>>"$munge/munged.err" &
    on_exit "kill $!; wait $!"
    local ctl_port=$((30000 + TAG % 10000)) d_port=$((40000 + TAG % 10000))
    {
        echo "ClusterName=fftest$TAG"
        echo "SlurmctldHost=$(hostname)($NET.1)"
        echo "SlurmctldPort=$ctl_port"
        echo "SlurmdPort=$d_port"
        echo "AuthType=auth/munge"
        echo "CredType=cred/munge"
        echo "AuthInfo=socket=$munge/munge.socket"
        echo "SlurmUser=root"
        echo "SlurmdUser=root"
        echo "StateSaveLocation=$dir/state"
        echo "SlurmdSpoolDir=$dir/spool-%n"
        echo "SlurmctldPidFile=$dir/slurmctld.pid"
        echo "SlurmdPidFile=$dir/slurmd-%n.pid"
        echo "SlurmctldLogFile=$dir/slurmctld.log"
        echo "SlurmdLogFile=$dir/slurmd-%n.log"
        echo "ProctrackType=proctrack/linuxproc"
        echo "TaskPlugin=task/none"
        echo "ReturnToService=2"
        echo "MpiDefault=none"
        echo "SlurmdTimeout=10"
        echo "SchedulerType=sched/builtin"
        echo "SelectType=select/cons_tres"
        echo "SelectTypeParameters=CR_CPU"
        echo "JobCompType=jobcomp/none"
        echo "AccountingStorageType=accounting_storage/none"
        echo "MinJobAge=600"
        for ((k = 1; k <= NHOSTS; k++)); do
            echo "NodeName=n$k NodeAddr=${HOST_ADDR[$k]} CPUs=2 State=UNKNOWN"
        done
        echo "PartitionName=debug Nodes=n[1-$NHOSTS] Default=YES MaxTime=INFINITE State=UP"
    } > "$dir/slurm.conf"
    export SLURM_CONF=$dir/slurm.conf
    local tries=0
    until [ -S "$munge/munge.socket" ]; do
        tries=$((tries + 1))
        [ $tries -lt 50 ] || fail "munged did not start: $(cat "$munge/munged.err" "$munge/munged.log" 2>/dev/null)"
        sleep 0.1
    done
    slurmctld -D -f "$dir/slurm.conf" -i 2>>"$dir/slurmctld.err" &
    on_exit "kill $!; wait $!"
    # slurmd in a namespace needs the host's cgroup tree (ip netns exec
    # mounts a fresh /sys whose /sys/fs/cgroup is empty)
    mkdir -p "$dir/cgroup"
    mount --rbind /sys/fs/cgroup "$dir/cgroup"
    on_exit "umount -l $dir/cgroup"
    for ((k = 1; k <= NHOSTS; k++)); do
        ip netns exec "${HOST_NS[$k]}" sh -c "umount /sys/fs/cgroup 2>/dev/null; mount --rbind $dir/cgroup /sys/fs/cgroup && exec slurmd -D -N n$k -f $dir/slurm.conf" \
            2>>"$dir/slurmd-n$k.err" &
        SLURMD_PID[$k]=$!
        on_exit "kill ${SLURMD_PID[$k]}; wait ${SLURMD_PID[$k]}"
    done
    tries=0
    until [ "$(sinfo -h -o '%T %D' 2>/dev/null | awk '$1 == "idle" {print $2}')" = "$NHOSTS" ]; do
        tries=$((tries + 1))
        [ $tries -lt 150 ] || fail "the nodes are not idle: $(sinfo 2>&1; tail -n 5 "$dir"/*.log "$dir"/*.err)"
        sleep 0.2
    done
}

# clean_log FILE: no sanitizer report from any process, here or remote
# (remote stderr comes back through the connection, prefixed by its host)
clean_log () {
    ! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$1" \
        || fail "a sanitizer report: $(grep -A5 'Sanitizer\|runtime error' "$1" | head -20)"
}
