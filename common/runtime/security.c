/*  fanfold security: CURVE certificates from the topology, czmq's zauth as
    the ZAP handler, and the refusal of unauthenticated tcp binds. */

#include "fanfold/runtime/security.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct ff_security {
    zcert_t *server;                /* server secret cert, binding stages */
    zcert_t *client;                /* client secret cert, connecting ones */
    char server_public [41];        /* server public key (Z85) */
    zactor_t *auth;                 /* ZAP handler, binding stages */
    int insecure;                   /* --insecure: tcp without keys allowed */
    int enabled;                    /* the topology names keys */
};

static int
s_is_tcp (const char *endpoint)
{
    return strncmp (endpoint, "tcp://", 6) == 0;
}

ff_security_t *
ff_security_new (ff_topology_t *topology, int server, int insecure,
                 char *error, size_t error_size)
{
    ff_security_t *self = (ff_security_t *) calloc (1, sizeof (ff_security_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->insecure = insecure;
    const char *server_secret = ff_topology_key (topology, "server_secret");
    const char *server_public = ff_topology_key (topology, "server_public");
    const char *client_secret = ff_topology_key (topology, "client_secret");
    const char *allowed = ff_topology_key (topology, "allowed");
    if (!server_public && !server_secret && !client_secret && !allowed)
        return self;                /* no keys: ipc, or --insecure tcp */
    self->enabled = 1;
    if (!server_public || (server && (!server_secret || !allowed)) || (!server && !client_secret)) {
        snprintf (error, error_size,
                  "security: the topology needs server_public, client_secret, and for the "
                  "ventilator and sink server_secret and allowed");
        goto fail;
    }
    zcert_t *public_cert = zcert_load (server_public);
    if (!public_cert) {
        snprintf (error, error_size, "%s: cannot load the server's public certificate", server_public);
        goto fail;
    }
    snprintf (self->server_public, sizeof (self->server_public), "%s",
              zcert_public_txt (public_cert));
    zcert_destroy (&public_cert);
    if (client_secret) {
        self->client = zcert_load (client_secret);
        if (!self->client) {
            snprintf (error, error_size, "%s: cannot load the client certificate", client_secret);
            goto fail;
        }
    }
    if (server) {
        struct stat info;
        self->server = zcert_load (server_secret);
        if (!self->server) {
            snprintf (error, error_size, "%s: cannot load the server's secret certificate",
                      server_secret);
            goto fail;
        }
        if (stat (allowed, &info) != 0 || !S_ISDIR (info.st_mode)) {
            snprintf (error, error_size, "%s: no such directory of allowed client certificates",
                      allowed);
            goto fail;
        }
        self->auth = zactor_new (zauth, NULL);
        if (!self->auth) {
            snprintf (error, error_size, "cannot start the ZAP handler");
            goto fail;
        }
        zstr_sendx (self->auth, "CURVE", allowed, NULL);
        zsock_wait (self->auth);
    }
    return self;
fail:
    ff_security_destroy (&self);
    return NULL;
}

void
ff_security_destroy (ff_security_t **self_p)
{
    if (self_p && *self_p) {
        ff_security_t *self = *self_p;
        zactor_destroy (&self->auth);
        zcert_destroy (&self->server);
        zcert_destroy (&self->client);
        free (self);
        *self_p = NULL;
    }
}

int
ff_security_bind (ff_security_t *self, zsock_t *sock, const char *endpoint,
                  char *error, size_t error_size)
{
    if (!s_is_tcp (endpoint))
        return 0;
    if (!self->enabled) {
        if (self->insecure)
            return 0;
        snprintf (error, error_size,
                  "refusing to bind %s without CURVE keys: anyone who can reach it could "
                  "send tasks or results. Make keys with `fanfold keygen DIR` and name them "
                  "in the topology's security section, or pass --insecure on a trusted network",
                  endpoint);
        return -1;
    }
    zsock_set_zap_domain (sock, "fanfold");
    zcert_apply (self->server, zsock_resolve (sock));
    zsock_set_curve_server (sock, 1);
    return 0;
}

int
ff_security_connect (ff_security_t *self, zsock_t *sock, const char *endpoint,
                     char *error, size_t error_size)
{
    (void) error;
    (void) error_size;
    if (!s_is_tcp (endpoint) || !self->enabled)
        return 0;
    zcert_apply (self->client, zsock_resolve (sock));
    zsock_set_curve_serverkey (sock, self->server_public);
    return 0;
}

int
ff_security_keygen (const char *dir, char *error, size_t error_size)
{
    char path [1024];
    zcert_t *server = NULL, *client = NULL;
    int rc = -1;
    if ((mkdir (dir, 0700) != 0 && errno != EEXIST)
    ||  snprintf (path, sizeof (path), "%s/allowed", dir) >= (int) sizeof (path)
    ||  (mkdir (path, 0700) != 0 && errno != EEXIST)) {
        snprintf (error, error_size, "%s: cannot create: %s", dir, strerror (errno));
        return -1;
    }
    server = zcert_new ();
    client = zcert_new ();
    if (!server || !client) {
        snprintf (error, error_size, "cannot make certificates");
        goto done;
    }
    zcert_set_meta (server, "name", "fanfold server");
    zcert_set_meta (client, "name", "fanfold client");
    snprintf (path, sizeof (path), "%s/server.cert", dir);
    if (zcert_save (server, path) != 0)
        goto write_failed;
    snprintf (path, sizeof (path), "%s/client.cert_secret", dir);
    if (zcert_save_secret (client, path) != 0)
        goto write_failed;
    snprintf (path, sizeof (path), "%s/allowed/client.cert", dir);
    if (zcert_save_public (client, path) != 0)
        goto write_failed;
    rc = 0;
    goto done;
write_failed:
    snprintf (error, error_size, "%s: cannot write", path);
done:
    zcert_destroy (&server);
    zcert_destroy (&client);
    return rc;
}
