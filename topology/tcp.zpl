#   fanfold topology: several hosts over tcp. Stages bind on every
#   interface ("*"); peers connect to the host named in each section, so
#   set ventilator/host and sink/host to addresses workers can reach.
#   Each worker gets its own task pipe on a port the system picks.
#   Use on the main host:    fanfold run -t topology/tcp.zpl -w 0 ...
#   and on every other host: fanfold worker -t topology/tcp.zpl
fanfold
    window = 1024
    window_bytes = 64M
    prefetch = 1
    batch = 64
    heartbeat_ms = 250
    worker_timeout_ms = 3000
    hwm = 1000
    linger_ms = 2000
ventilator
    host = "127.0.0.1"          # the address workers use to reach it
    control = "tcp://*:5570"
    tasks = "tcp://*:*"         # per-worker pipes on ephemeral ports
sink
    host = "127.0.0.1"
    results = "tcp://*:5571"
