/*  zmqpipe: the raw libzmq baseline for `make bench`. The ZeroMQ Guide's
    divide-and-conquer pipeline and nothing more: a ventilator (this process)
    PUSHes one message per stdin line to W worker processes (PULL, echo,
    PUSH), and a sink process PULLs the results and writes them to stdout as
    they come. No ordering, no ledger, no retries, no batching.

    Usage: zmqpipe [-w WORKERS] < lines > lines-in-any-order
    Each task is 8 bytes of seq followed by the line (without its newline);
    the sink writes the line back with a newline. Exit 0 when the sink wrote
    as many lines as were read. */

#include <zmq.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAX_WORKERS 256
#define S_SILENCE_MS 10000      /* a sink that hears nothing, or a ventilator
                                   that cannot send, this long gives up */

static char s_tasks [256];      /* ventilator PUSH endpoint */
static char s_results [256];    /* sink PULL endpoint */
static char s_total [256];      /* sink PULL endpoint for the task count */
static char s_dir [128];        /* private directory of the ipc files */

static void
s_die (const char *what)
{
    fprintf (stderr, "zmqpipe: %s: %s\n", what, zmq_strerror (zmq_errno ()));
    _exit (2);
}

/* A worker: echo every task's line (the seq is dropped) to the sink. */
static int
s_worker (void)
{
    void *ctx = zmq_ctx_new ();
    void *in = zmq_socket (ctx, ZMQ_PULL);
    void *out = zmq_socket (ctx, ZMQ_PUSH);
    if (!ctx || !in || !out)
        s_die ("worker socket");
    if (zmq_connect (in, s_tasks) || zmq_connect (out, s_results))
        s_die ("worker connect");
    char buf [4096];
    while (1) {
        int n = zmq_recv (in, buf, sizeof (buf), 0);
        if (n < 0) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        if (n < 8)
            continue;
        if (n > (int) sizeof (buf))
            n = sizeof (buf);
        while (zmq_send (out, buf, (size_t) n, 0) < 0 && zmq_errno () == EINTR)
            ;
    }
    return 0;
}

/* The sink: write every result's line; stop once the ventilator has said
   how many tasks there are and that many results arrived. */
static int
s_sink (void)
{
    void *ctx = zmq_ctx_new ();
    void *res = zmq_socket (ctx, ZMQ_PULL);
    void *tot = zmq_socket (ctx, ZMQ_PULL);
    if (!ctx || !res || !tot)
        s_die ("sink socket");
    if (zmq_bind (res, s_results) || zmq_bind (tot, s_total))
        s_die ("sink bind");
    static char obuf [1 << 16];
    setvbuf (stdout, obuf, _IOFBF, sizeof (obuf));
    uint64_t got = 0, total = UINT64_MAX;
    zmq_pollitem_t items [2] = { { res, 0, ZMQ_POLLIN, 0 }, { tot, 0, ZMQ_POLLIN, 0 } };
    char buf [4096];
    while (got < total) {
        int ready = zmq_poll (items, 2, S_SILENCE_MS);
        if (ready < 0) {
            if (zmq_errno () == EINTR)
                continue;
            s_die ("sink poll");
        }
        if (ready == 0) {
            fprintf (stderr, "zmqpipe: the sink heard nothing for %d ms\n", S_SILENCE_MS);
            _exit (2);
        }
        if (items [1].revents & ZMQ_POLLIN) {
            uint64_t t;
            if (zmq_recv (tot, &t, sizeof (t), 0) == sizeof (t))
                total = t;
        }
        if (items [0].revents & ZMQ_POLLIN) {
            /* drain what is there without polling again */
            int n;
            while ((n = zmq_recv (res, buf, sizeof (buf), ZMQ_DONTWAIT)) >= 0) {
                if (n > (int) sizeof (buf))
                    n = sizeof (buf);
                if (n >= 8) {
                    fwrite (buf + 8, 1, (size_t) n - 8, stdout);
                    putchar ('\n');
                }
                got++;
            }
        }
    }
    fflush (stdout);
    zmq_close (res);
    zmq_close (tot);
    zmq_ctx_term (ctx);
    return ferror (stdout) ? 1 : 0;
}

/* Waits until `count` peers finished their handshake with `socket`, so the
   PUSH socket deals to every worker from the first task on. */
static void
s_wait_peers (void *ctx, void *socket, int count)
{
    if (zmq_socket_monitor (socket, "inproc://monitor", ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
        s_die ("monitor");
    void *mon = zmq_socket (ctx, ZMQ_PAIR);
    if (!mon || zmq_connect (mon, "inproc://monitor"))
        s_die ("monitor connect");
    int timeout = 10000;
    zmq_setsockopt (mon, ZMQ_RCVTIMEO, &timeout, sizeof (timeout));
    for (int seen = 0; seen < count; ) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, mon, 0) < 0)
            s_die ("waiting for workers");
        int more = zmq_msg_more (&frame);
        if (zmq_msg_size (&frame) >= 2) {
            uint16_t event;
            memcpy (&event, zmq_msg_data (&frame), 2);
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                seen++;
        }
        zmq_msg_close (&frame);
        if (more) {            /* the endpoint frame */
            zmq_msg_init (&frame);
            zmq_msg_recv (&frame, mon, 0);
            zmq_msg_close (&frame);
        }
    }
    zmq_socket_monitor (socket, NULL, 0);
    zmq_close (mon);
}

int
main (int argc, char *argv [])
{
    int workers = 2;
    int opt;
    while ((opt = getopt (argc, argv, "w:")) != -1) {
        if (opt == 'w')
            workers = atoi (optarg);
        else {
            fprintf (stderr, "usage: zmqpipe [-w WORKERS] < lines\n");
            return 2;
        }
    }
    if (workers < 1 || workers > S_MAX_WORKERS) {
        fprintf (stderr, "zmqpipe: -w must be 1..%d\n", S_MAX_WORKERS);
        return 2;
    }
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof (s_dir), "%s/zmqpipe.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (s_dir)) {
        perror ("zmqpipe: mkdtemp");
        return 2;
    }
    snprintf (s_tasks, sizeof (s_tasks), "ipc://%s/tasks", s_dir);
    snprintf (s_results, sizeof (s_results), "ipc://%s/results", s_dir);
    snprintf (s_total, sizeof (s_total), "ipc://%s/total", s_dir);
    fflush (stdout);

    pid_t pids [S_MAX_WORKERS + 1];
    for (int i = 0; i <= workers; i++) {
        pids [i] = fork ();
        if (pids [i] < 0) {
            perror ("zmqpipe: fork");
            return 2;
        }
        if (pids [i] == 0)
            _exit (i == 0 ? s_sink () : s_worker ());
    }

    /* the ventilator */
    void *ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    void *tot = zmq_socket (ctx, ZMQ_PUSH);
    if (!ctx || !push || !tot)
        s_die ("ventilator socket");
    if (zmq_bind (push, s_tasks) || zmq_connect (tot, s_total))
        s_die ("ventilator bind");
    s_wait_peers (ctx, push, workers);
    int silence = S_SILENCE_MS;
    zmq_setsockopt (push, ZMQ_SNDTIMEO, &silence, sizeof (silence));

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t seq = 0;
    char buf [4096];
    while ((len = getline (&line, &cap, stdin)) > 0) {
        if (line [len - 1] == '\n')
            len--;
        if (len > (ssize_t) sizeof (buf) - 8)
            len = sizeof (buf) - 8;
        memcpy (buf, &seq, 8);
        memcpy (buf + 8, line, (size_t) len);
        while (zmq_send (push, buf, (size_t) len + 8, 0) < 0)
            if (zmq_errno () != EINTR) {
                for (int i = 0; i <= workers; i++)
                    kill (pids [i], SIGKILL);
                s_die ("ventilator send");
            }
        seq++;
    }
    free (line);
    if (zmq_send (tot, &seq, sizeof (seq), 0) < 0)
        s_die ("ventilator send total");

    int status, rc = 0;
    if (waitpid (pids [0], &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status))
        rc = 1;
    for (int i = 1; i <= workers; i++)
        kill (pids [i], SIGKILL);
    for (int i = 1; i <= workers; i++)
        waitpid (pids [i], NULL, 0);
    int zero = 0;
    zmq_setsockopt (push, ZMQ_LINGER, &zero, sizeof (zero));
    zmq_setsockopt (tot, ZMQ_LINGER, &zero, sizeof (zero));
    zmq_close (push);
    zmq_close (tot);
    zmq_ctx_term (ctx);
    char path [300];
    const char *names [] = { "tasks", "results", "total" };
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof (path), "%s/%s", s_dir, names [i]);
        unlink (path);
    }
    rmdir (s_dir);
    return rc;
}
