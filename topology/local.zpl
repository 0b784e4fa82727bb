#   fanfold topology: one host, ipc endpoints in a private directory.
#   %u is replaced by the user id; the directory is created with mode 0700
#   and refused if another user owns it or it is open to others.
#   Use: fanfold run -t topology/local.zpl -w N ...
#        fanfold worker -t topology/local.zpl        (adds a worker)
fanfold
    window = 4096               # tasks in flight and reorder slots
    window_bytes = 64M          # payload bytes in flight
    prefetch = 1                # tasks a worker holds beyond the one it runs
    batch = 1024                # most tasks in one task message
    heartbeat_ms = 250          # heartbeat interval, both ways
    worker_timeout_ms = 3000    # silence after which a worker is dead
    hwm = 1000                  # socket high-water marks
    linger_ms = 2000            # how long a closing socket may flush
    client_timeout_ms = 600     # fanfold serve: a client silent this long loses its job
ventilator
    control = "ipc:///tmp/fanfold-%u/local/control"
    tasks = "ipc:///tmp/fanfold-%u/local/task"      # worker N: task-N
sink
    results = "ipc:///tmp/fanfold-%u/local/results"
server
    clients = "ipc:///tmp/fanfold-%u/local/clients"  # fanfold serve: submitting clients
