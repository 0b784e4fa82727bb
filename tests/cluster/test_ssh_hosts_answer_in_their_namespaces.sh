#   The test hosts themselves: three namespaces on a bridge, an sshd in
#   each with its own host key, reached with a user key made here; each
#   answers with its own address. Everything is gone afterwards.
. "$(dirname "$0")/lib.sh"
hosts_up 3
sshd_up
for k in 1 2 3; do
    got=$($SSH_CMD h$k "ip -4 -o addr show scope global | awk '{print \$4}'")
    [ "$got" = "${HOST_ADDR[$k]}/24" ] || fail "h$k answered from $got"
done
echo "cluster: 3 namespace hosts answer over ssh, each from its own address"
