/*  fanfold topology: where each stage binds and connects, and the job's
    tuning (window, prefetch, heartbeats, HWMs), read from a ZPL file with
    czmq's zconfig (SPEC section 9). Endpoint strings may contain %u (the
    user id). A tcp endpoint binds on "*" and peers connect to its host. */

#ifndef FANFOLD_TOPOLOGY_H
#define FANFOLD_TOPOLOGY_H

#include <stddef.h>

typedef struct ff_topology ff_topology_t;

typedef enum {
    FF_EP_CONTROL,                  /* ventilator control ROUTER */
    FF_EP_TASKS,                    /* ventilator per-worker PUSH (prefix) */
    FF_EP_RESULTS,                  /* sink results PULL */
    FF_EP_CLIENTS                   /* fanfold-server clients ROUTER (server/clients;
                                       absent: "clients" beside an ipc control, or
                                       the control's tcp port + 2) */
} ff_endpoint_t;

/* Tuning values; every one has a default and a checked range. */
typedef struct {
    int window;                     /* tasks in flight, reorder slots */
    long window_bytes;              /* payload bytes in flight */
    int prefetch;                   /* tasks a worker holds beyond one */
    int batch;                      /* most tasks in one task message */
    int heartbeat_ms;               /* heartbeat interval */
    int worker_timeout_ms;          /* silence before a worker is dead */
    int hwm;                        /* socket high-water marks */
    int linger_ms;                  /* linger on close */
    int client_timeout_ms;          /* fanfold-server: a client silent this long
                                       loses its job */
} ff_settings_t;

/* Loads a topology file. On failure returns NULL and writes a message
   naming the file (and key) into error: a ZPL syntax error (zconfig names
   its line on stderr), a setting out of range, an endpoint that is not
   ipc:///absolute/path (at most FF_NET_IPC_PATH_MAX characters, task
   pipes' "-N" included) or tcp://host:port (1 to 65535, or *). Keys it
   does not know are warned about on stderr, with their line. */
ff_topology_t *
    ff_topology_load (const char *path, char *error, size_t error_size);

/* Makes a one-host ipc topology in directory dir. NULL on no memory. */
ff_topology_t *
    ff_topology_local (const char *dir);

/* Writes the topology as ZPL to path. Returns 0 or -1. */
int
    ff_topology_save (ff_topology_t *self, const char *path);

/* Destroys the topology and NULLs the pointer. Safe on NULL. */
void
    ff_topology_destroy (ff_topology_t **self_p);

/* Returns the endpoint the owning stage binds. */
const char *
    ff_topology_bind (ff_topology_t *self, ff_endpoint_t which);

/* Returns the endpoint peers connect to. */
const char *
    ff_topology_connect (ff_topology_t *self, ff_endpoint_t which);

/* Returns the address peers use for the ventilator's per-worker pipes. */
const char *
    ff_topology_ventilator_host (ff_topology_t *self);

/* Returns a path of the topology's security section ("server_secret",
   "server_public", "client_secret", "allowed"), relative paths taken from
   the topology file's directory, or NULL when absent. */
const char *
    ff_topology_key (ff_topology_t *self, const char *key);

/* Returns the tuning values. */
const ff_settings_t *
    ff_topology_settings (ff_topology_t *self);

/* Returns how many keys of the file this fanfold does not know; load
   warned about each on stderr, naming the key and its line. */
size_t
    ff_topology_unknown_keys (ff_topology_t *self);

/* Returns the directory a private run's runtime directory goes in:
   $XDG_RUNTIME_DIR when it is set, absolute, writable and short enough
   that every ipc path of the run fits a Unix socket address, else
   "/tmp". The string is the environment's or static: not to be freed. */
const char *
    ff_topology_runtime_base (void);

/* Creates (0700) or checks every ipc directory the topology binds in:
   it must belong to this user and be closed to others. Returns 0, or -1
   with a message in error. */
int
    ff_topology_prepare_dirs (ff_topology_t *self, char *error, size_t error_size);

/* Parses a size as GNU parallel reads --block: a number, possibly with a
   fraction (1.5M), and an optional unit: k, m, g, t, p are powers of
   1000, K, M, G, T, P powers of 1024 (a trailing b or B is allowed).
   The bytes are rounded down. Returns 0, or -1 when text is not a size
   or does not fit a long. */
int
    ff_parse_size (const char *text, long *value);

#endif
