/*  fanfold security: CURVE on tcp endpoints (SPEC section 11). A topology's
    `security` section names the server's secret certificate, its public
    certificate, the client secret certificate that workers and the sink use
    to connect, and a directory of allowed client public certificates. A
    stage that binds tcp runs czmq's zauth actor (a CURVE server without a
    ZAP handler would accept any client that knows the server key) and
    refuses to bind tcp without keys unless --insecure is given. ipc
    endpoints live in a 0700 directory and need no keys. */

#ifndef FANFOLD_SECURITY_H
#define FANFOLD_SECURITY_H

#include <czmq.h>
#include <stddef.h>

#include "fanfold/runtime/topology.h"

typedef struct ff_security ff_security_t;

/* Loads the certificates the topology names (none: no CURVE). A binding
   stage (server != 0) also starts the ZAP handler. Returns NULL with a
   message naming the file in error. */
ff_security_t *
    ff_security_new (ff_topology_t *topology, int server, int insecure,
                     char *error, size_t error_size);

/* Stops the ZAP handler, frees the certificates; NULLs the pointer. */
void
    ff_security_destroy (ff_security_t **self_p);

/* Prepares sock to bind endpoint: a CURVE server on tcp. Returns 0, or -1
   with a message when endpoint is tcp, there are no keys and --insecure
   was not given. */
int
    ff_security_bind (ff_security_t *self, zsock_t *sock, const char *endpoint,
                      char *error, size_t error_size);

/* Prepares sock to connect to endpoint: a CURVE client on tcp when the
   topology has keys. Returns 0, or -1 with a message. */
int
    ff_security_connect (ff_security_t *self, zsock_t *sock, const char *endpoint,
                         char *error, size_t error_size);

/* Writes a server certificate and one client certificate into dir:
   server.cert, server.cert_secret, client.cert_secret and
   allowed/client.cert. Returns 0, or -1 with a message. */
int
    ff_security_keygen (const char *dir, char *error, size_t error_size);

#endif
