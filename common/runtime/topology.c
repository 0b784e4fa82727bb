/*  fanfold topology: ZPL loading with zconfig, defaults, validation,
    endpoint expansion (%u, tcp "*" to host) and ipc directory checks. */

#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ENDPOINTS 3
#define S_KEYS 4

static const char *s_key_names [S_KEYS] = {
    "server_secret", "server_public", "client_secret", "allowed"
};

struct ff_topology {
    char *bind [S_ENDPOINTS];       /* bind endpoints, expanded */
    char *connect [S_ENDPOINTS];    /* connect endpoints, expanded */
    char *vent_host;                /* host peers use for the ventilator */
    char *sink_host;                /* host peers use for the sink */
    char *keys [S_KEYS];            /* security paths, or NULL */
    ff_settings_t settings;         /* tuning */
};

static const ff_settings_t s_defaults = {
    .window = 2048, .window_bytes = 64L << 20, .prefetch = 1, .batch = 128,
    .heartbeat_ms = 250, .worker_timeout_ms = 3000, .hwm = 1000,
    .linger_ms = 2000
};

int
ff_parse_size (const char *text, long *value)
{
    char *end;
    errno = 0;
    if (!text || !*text)
        return -1;
    long long parsed = strtoll (text, &end, 10);
    if (errno || end == text || parsed < 0)
        return -1;
    long long scale = 1;
    if (*end) {
        switch (*end) {
            case 'k': case 'K': scale = 1LL << 10; break;
            case 'm': case 'M': scale = 1LL << 20; break;
            case 'g': case 'G': scale = 1LL << 30; break;
            default: return -1;
        }
        if (end [1] && !(end [1] == 'B' && !end [2]) && !(end [1] == 'b' && !end [2]))
            return -1;
    }
    if (parsed > LONG_MAX / scale)
        return -1;
    *value = (long) (parsed * scale);
    return 0;
}

/* Replaces every %u in text with the user id. */
static char *
s_expand (const char *text)
{
    char uid [24];
    snprintf (uid, sizeof (uid), "%u", (unsigned) getuid ());
    size_t len = strlen (text), extra = 0;
    const char *at;
    for (at = strstr (text, "%u"); at; at = strstr (at + 2, "%u"))
        extra += strlen (uid);
    char *out = (char *) malloc (len + extra + 1), *put = out;
    if (!out)
        return NULL;
    for (at = text; *at; ) {
        if (at [0] == '%' && at [1] == 'u') {
            strcpy (put, uid);
            put += strlen (uid);
            at += 2;
        }
        else
            *put++ = *at++;
    }
    *put = 0;
    return out;
}

/* Turns a bind endpoint into the one peers connect to: a tcp "*" host
   becomes host. */
static char *
s_connect_form (const char *bind, const char *host)
{
    if (strncmp (bind, "tcp://*:", 8) == 0 || strncmp (bind, "tcp://0.0.0.0:", 14) == 0) {
        const char *port = strchr (bind + 6, ':');
        char *out = (char *) malloc (strlen (host) + strlen (port) + 7);
        if (out)
            sprintf (out, "tcp://%s%s", host, port);
        return out;
    }
    return strdup (bind);
}

static int
s_valid_endpoint (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0)
        return endpoint [6] == '/' && strlen (endpoint) - 6 < 100;
    if (strncmp (endpoint, "tcp://", 6) == 0)
        return strchr (endpoint + 6, ':') != NULL;
    return 0;
}

void
ff_topology_destroy (ff_topology_t **self_p)
{
    if (self_p && *self_p) {
        ff_topology_t *self = *self_p;
        int index;
        for (index = 0; index < S_ENDPOINTS; index++) {
            free (self->bind [index]);
            free (self->connect [index]);
        }
        free (self->vent_host);
        free (self->sink_host);
        for (index = 0; index < S_KEYS; index++)
            free (self->keys [index]);
        free (self);
        *self_p = NULL;
    }
}

/* Sets the three endpoints and both hosts; expands and derives. */
static int
s_set_endpoints (ff_topology_t *self, const char *const binds [S_ENDPOINTS],
                 const char *vent_host, const char *sink_host)
{
    int index;
    self->vent_host = s_expand (vent_host);
    self->sink_host = s_expand (sink_host);
    if (!self->vent_host || !self->sink_host)
        return -1;
    for (index = 0; index < S_ENDPOINTS; index++) {
        self->bind [index] = s_expand (binds [index]);
        if (!self->bind [index])
            return -1;
        self->connect [index] = s_connect_form (self->bind [index],
            index == FF_EP_RESULTS? self->sink_host: self->vent_host);
        if (!self->connect [index])
            return -1;
    }
    return 0;
}

ff_topology_t *
ff_topology_local (const char *dir)
{
    ff_topology_t *self = (ff_topology_t *) calloc (1, sizeof (ff_topology_t));
    if (!self)
        return NULL;
    self->settings = s_defaults;
    char control [PATH_MAX], tasks [PATH_MAX], results [PATH_MAX];
    snprintf (control, sizeof (control), "ipc://%s/control", dir);
    snprintf (tasks, sizeof (tasks), "ipc://%s/task", dir);
    snprintf (results, sizeof (results), "ipc://%s/results", dir);
    const char *binds [S_ENDPOINTS] = { control, tasks, results };
    if (s_set_endpoints (self, binds, "localhost", "localhost")) {
        ff_topology_destroy (&self);
        return NULL;
    }
    return self;
}

/* Reads an integer setting in [low, high]; absent keeps the default. */
static int
s_setting (zconfig_t *root, const char *path, long low, long high, long *value,
           const char *file, char *error, size_t error_size)
{
    const char *text = zconfig_get (root, path, NULL);
    long parsed;
    if (!text)
        return 0;
    if (ff_parse_size (text, &parsed) || parsed < low || parsed > high) {
        snprintf (error, error_size, "%s: %s = \"%s\": expected a number from %ld to %ld",
                  file, path, text, low, high);
        return -1;
    }
    *value = parsed;
    return 0;
}

ff_topology_t *
ff_topology_load (const char *path, char *error, size_t error_size)
{
    struct {
        const char *key;            /* ZPL path */
        long low, high;             /* allowed range */
        void *field;                /* setting to fill */
        int is_long;                /* field is a long, not an int */
    } keys [] = {
        { "fanfold/window", 1, 1 << 20, NULL, 0 },
        { "fanfold/window_bytes", 1 << 16, 1L << 40, NULL, 1 },
        { "fanfold/prefetch", 0, 64, NULL, 0 },
        { "fanfold/batch", 1, 4096, NULL, 0 },
        { "fanfold/heartbeat_ms", 10, 60000, NULL, 0 },
        { "fanfold/worker_timeout_ms", 50, 3600000, NULL, 0 },
        { "fanfold/hwm", 1, 1 << 20, NULL, 0 },
        { "fanfold/linger_ms", 0, 60000, NULL, 0 },
    };
    ff_topology_t *self = NULL;
    zconfig_t *root = NULL;
    size_t index;

    if (error_size)
        error [0] = 0;
    if (access (path, R_OK) != 0) {
        snprintf (error, error_size, "%s: cannot read topology: %s", path, strerror (errno));
        return NULL;
    }
    root = zconfig_load (path);
    if (!root) {
        snprintf (error, error_size, "%s: not a valid ZPL topology file", path);
        return NULL;
    }
    self = (ff_topology_t *) calloc (1, sizeof (ff_topology_t));
    if (!self)
        goto fail;
    self->settings = s_defaults;
    keys [0].field = &self->settings.window;
    keys [1].field = &self->settings.window_bytes;
    keys [2].field = &self->settings.prefetch;
    keys [3].field = &self->settings.batch;
    keys [4].field = &self->settings.heartbeat_ms;
    keys [5].field = &self->settings.worker_timeout_ms;
    keys [6].field = &self->settings.hwm;
    keys [7].field = &self->settings.linger_ms;
    for (index = 0; index < sizeof (keys) / sizeof (keys [0]); index++) {
        long value = keys [index].is_long? *(long *) keys [index].field
                                         : *(int *) keys [index].field;
        if (s_setting (root, keys [index].key, keys [index].low, keys [index].high,
                       &value, path, error, error_size))
            goto fail;
        if (keys [index].is_long)
            *(long *) keys [index].field = value;
        else
            *(int *) keys [index].field = (int) value;
    }
    if (self->settings.worker_timeout_ms < 2 * self->settings.heartbeat_ms) {
        snprintf (error, error_size,
                  "%s: fanfold/worker_timeout_ms must be at least twice heartbeat_ms", path);
        goto fail;
    }
    const char *names [S_ENDPOINTS] = {
        "ventilator/control", "ventilator/tasks", "sink/results"
    };
    const char *binds [S_ENDPOINTS];
    for (index = 0; index < S_ENDPOINTS; index++) {
        binds [index] = zconfig_get (root, names [index], NULL);
        if (!binds [index] || !s_valid_endpoint (binds [index])) {
            snprintf (error, error_size, binds [index]
                      ? "%s: %s = \"%s\": expected ipc:///absolute/path or tcp://host:port"
                      : "%s: %s is missing", path, names [index], binds [index]);
            goto fail;
        }
    }
    if (s_set_endpoints (self, binds,
                         zconfig_get (root, "ventilator/host", "localhost"),
                         zconfig_get (root, "sink/host", "localhost")))
        goto fail;
    for (index = 0; index < S_KEYS; index++) {
        char key [64], dir [PATH_MAX];
        snprintf (key, sizeof (key), "security/%s", s_key_names [index]);
        const char *value = zconfig_get (root, key, NULL);
        if (!value || !*value)
            continue;
        snprintf (dir, sizeof (dir), "%s", path);
        char *expanded = s_expand (value);
        if (!expanded)
            goto fail;
        if (expanded [0] == '/')
            self->keys [index] = expanded;
        else {
            self->keys [index] = zsys_sprintf ("%s/%s", dirname (dir), expanded);
            free (expanded);
            if (!self->keys [index])
                goto fail;
        }
    }
    zconfig_destroy (&root);
    return self;
fail:
    if (!*error)
        snprintf (error, error_size, "%s: out of memory", path);
    zconfig_destroy (&root);
    ff_topology_destroy (&self);
    return NULL;
}

int
ff_topology_save (ff_topology_t *self, const char *path)
{
    FILE *file = fopen (path, "w");
    if (!file)
        return -1;
    const ff_settings_t *s = &self->settings;
    fprintf (file,
             "#   fanfold topology written by fanfold run\n"
             "fanfold\n"
             "    window = %d\n    window_bytes = %ld\n    prefetch = %d\n"
             "    batch = %d\n    heartbeat_ms = %d\n    worker_timeout_ms = %d\n"
             "    hwm = %d\n    linger_ms = %d\n"
             "ventilator\n    host = \"%s\"\n    control = \"%s\"\n    tasks = \"%s\"\n"
             "sink\n    host = \"%s\"\n    results = \"%s\"\n",
             s->window, s->window_bytes, s->prefetch, s->batch, s->heartbeat_ms,
             s->worker_timeout_ms, s->hwm, s->linger_ms,
             self->vent_host, self->bind [FF_EP_CONTROL], self->bind [FF_EP_TASKS],
             self->sink_host, self->bind [FF_EP_RESULTS]);
    int rc = ferror (file)? -1: 0;
    if (fclose (file))
        rc = -1;
    return rc;
}

const char *
ff_topology_bind (ff_topology_t *self, ff_endpoint_t which)
{
    return self->bind [which];
}

const char *
ff_topology_connect (ff_topology_t *self, ff_endpoint_t which)
{
    return self->connect [which];
}

const char *
ff_topology_ventilator_host (ff_topology_t *self)
{
    return self->vent_host;
}

const char *
ff_topology_key (ff_topology_t *self, const char *key)
{
    size_t index;
    for (index = 0; index < S_KEYS; index++)
        if (strcmp (key, s_key_names [index]) == 0)
            return self->keys [index];
    return NULL;
}

const ff_settings_t *
ff_topology_settings (ff_topology_t *self)
{
    return &self->settings;
}

/* Creates dir (0700) if missing, with its parent if that is missing too,
   and checks that it is ours and closed to others. */
static int
s_private_dir (const char *dir, char *error, size_t error_size)
{
    struct stat info;
    if (mkdir (dir, 0700) != 0 && errno == ENOENT) {
        char parent [PATH_MAX];
        snprintf (parent, sizeof (parent), "%s", dir);
        if (mkdir (dirname (parent), 0700) != 0 && errno != EEXIST) {
            snprintf (error, error_size, "%s: cannot create: %s", parent, strerror (errno));
            return -1;
        }
        mkdir (dir, 0700);
    }
    if (lstat (dir, &info) != 0 || !S_ISDIR (info.st_mode)) {
        snprintf (error, error_size, "%s: cannot create ipc directory", dir);
        return -1;
    }
    if (info.st_uid != getuid () || (info.st_mode & 077)) {
        snprintf (error, error_size,
                  "%s: ipc directory must belong to uid %u with mode 0700 (it has uid %u, mode %o)",
                  dir, (unsigned) getuid (), (unsigned) info.st_uid,
                  (unsigned) (info.st_mode & 0777));
        return -1;
    }
    return 0;
}

int
ff_topology_prepare_dirs (ff_topology_t *self, char *error, size_t error_size)
{
    int index;
    for (index = 0; index < S_ENDPOINTS; index++) {
        const char *endpoint = self->bind [index];
        if (strncmp (endpoint, "ipc://", 6) != 0)
            continue;
        char dir [PATH_MAX];
        snprintf (dir, sizeof (dir), "%s", endpoint + 6);
        if (s_private_dir (dirname (dir), error, error_size))
            return -1;
    }
    return 0;
}
