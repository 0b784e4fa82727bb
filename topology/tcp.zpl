#   fanfold topology: several hosts over tcp, authenticated and encrypted
#   with CURVE. Stages bind on every interface ("*"); peers connect to the
#   host named in each section, so set ventilator/host and sink/host to
#   addresses the workers can reach. Each worker gets its own task pipe on
#   a port the system picks, or on a free port of a range that a firewall
#   can open: tasks = "tcp://*:*[54000-54999]" (one port per worker that
#   is in the job at once; a worker beyond the range is not taken).
#   Keys first (paths below are relative to this file):
#       fanfold keygen topology/keys
#   then copy client.cert_secret and server.cert to the worker hosts.
#   Use on the main host:    fanfold run -t topology/tcp.zpl -w 0 ...
#   and on every other host: fanfold worker -t topology/tcp.zpl
#   Without a security section, tcp binds are refused unless --insecure.
#   With `fanfold run -t tcp.zpl --hosts ...` the keys are made for the job
#   instead and the security section is ignored (docs/CLUSTER.md).
fanfold
    window = 4096
    window_bytes = 64M
    prefetch = 1
    batch = 1024
    heartbeat_ms = 250
    worker_timeout_ms = 3000
    hwm = 1000
    linger_ms = 2000
    client_timeout_ms = 600
ventilator
    host = "127.0.0.1"          # the address workers use to reach it
    control = "tcp://*:5570"
    tasks = "tcp://*:*"         # per-worker pipes on ephemeral ports; or "tcp://*:*[54000-54999]"
sink
    host = "127.0.0.1"
    results = "tcp://*:5571"
server
    clients = "tcp://*:5572"    # fanfold serve: submitting clients (CURVE, allowed keys)
security
    server_secret = "keys/server.cert_secret"   # ventilator and sink only
    server_public = "keys/server.cert"
    client_secret = "keys/client.cert_secret"   # workers and the sink
    allowed = "keys/allowed"                    # client certificates let in
