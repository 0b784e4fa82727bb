/*  fanfold topology: ZPL loading with zconfig, defaults, validation,
    endpoint expansion (%u, tcp "*" to host) and ipc directory checks. */

#include "fanfold/runtime/topology.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ENDPOINTS 4
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
    size_t unknown;                 /* keys of the file this fanfold does not know */
};

/* Every key a topology file may hold, as a zconfig path. */
static const char *s_known_keys [] = {
    "fanfold", "fanfold/window", "fanfold/window_bytes", "fanfold/prefetch",
    "fanfold/batch", "fanfold/heartbeat_ms", "fanfold/worker_timeout_ms",
    "fanfold/hwm", "fanfold/linger_ms", "fanfold/client_timeout_ms",
    "ventilator", "ventilator/host", "ventilator/control", "ventilator/tasks",
    "sink", "sink/host", "sink/results", "server", "server/clients",
    "security", "security/server_secret", "security/server_public",
    "security/client_secret", "security/allowed"
};

static const ff_settings_t s_defaults = {
    .window = 4096, .window_bytes = 64L << 20, .prefetch = 1, .batch = 1024,
    .heartbeat_ms = 250, .worker_timeout_ms = 3000, .hwm = 1000,
    .linger_ms = 2000, .client_timeout_ms = FF_DEFAULT_CLIENT_TIMEOUT_MS
};

int
ff_parse_size (const char *text, long *value)
{
    /* as GNU parallel reads --block: a lower-case unit is a power of
       1000, an upper-case one a power of 1024; a fraction is allowed */
    static const char units [] = "kmgtp";
    char *end;
    errno = 0;
    if (!text || !*text || !(isdigit ((unsigned char) *text) || *text == '.')
    ||  strpbrk (text, "xXeEnN"))   /* strtod would read hex, exponents, nan */
        return -1;
    double parsed = strtod (text, &end);
    if (errno || end == text || !(parsed >= 0))
        return -1;
    double scale = 1;
    if (*end) {
        const char *unit = strchr (units, tolower ((unsigned char) *end));
        if (!unit || !*unit)
            return -1;
        double base = islower ((unsigned char) *end)? 1000.0: 1024.0;
        int power;
        for (power = 0; power <= unit - units; power++)
            scale *= base;
        if (end [1] && !(end [1] == 'B' && !end [2]) && !(end [1] == 'b' && !end [2]))
            return -1;
    }
    double bytes = parsed * scale;
    if (bytes >= (double) LONG_MAX)
        return -1;
    *value = (long) bytes;
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
    char control [PATH_MAX], tasks [PATH_MAX], results [PATH_MAX], clients [PATH_MAX];
    snprintf (control, sizeof (control), "ipc://%s/control", dir);
    snprintf (tasks, sizeof (tasks), "ipc://%s/task", dir);
    snprintf (results, sizeof (results), "ipc://%s/results", dir);
    snprintf (clients, sizeof (clients), "ipc://%s/clients", dir);
    const char *binds [S_ENDPOINTS] = { control, tasks, results, clients };
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

/* zconfig_load, with the syntax error zconfig prints on stdout (through
   zclock_log, which no setting redirects) caught instead: stdout may be
   the job's output. On failure reason holds "line N: what", or is empty. */
static zconfig_t *
s_zconfig_load (const char *path, char *reason, size_t reason_size)
{
    /* in memory: tmpfile () makes and deletes an inode in /tmp, which on
       ext4 costs about 1 ms per call once many were deleted recently (a
       loop of submits, and every stage of every run, loads a topology) */
    int memory = memfd_create ("fanfold-zconfig", MFD_CLOEXEC);
    FILE *capture = memory >= 0? fdopen (memory, "w+"): NULL;
    if (!capture && memory >= 0)
        close (memory);
    if (!capture)
        capture = tmpfile ();
    int saved = capture? dup (STDOUT_FILENO): -1;
    fflush (stdout);
    if (saved >= 0 && dup2 (fileno (capture), STDOUT_FILENO) < 0) {
        close (saved);
        saved = -1;
    }
    /* zconfig_load leaks its zfile on a syntax error: read the file here */
    zchunk_t *chunk = zchunk_slurp (path, 0);
    zconfig_t *root = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
    }
    if (capture) {
        char line [256];
        rewind (capture);
        while (!root && fgets (line, sizeof (line), capture)) {
            const char *at = strstr (line, "(zconfig): (");
            int number, used = 0;
            if (at && sscanf (at, "(zconfig): (%d) %n", &number, &used) == 1 && used > 0) {
                snprintf (reason, reason_size, "line %d: %.*s", number,
                          (int) strcspn (at + used, "\r\n"), at + used);
                break;
            }
        }
        fclose (capture);
    }
    return root;
}

/* The suffix a worker's ipc task pipe adds to the tasks endpoint, at its
   longest: "-" and a worker id of up to 10 digits. */
#define S_TASK_SUFFIX_MAX "-4294967295"

/* Returns the 1-based line of file on which the key at zconfig path key
   ("section/name") is written, or 0 when it cannot be told. */
static int
s_line_of (const char *file, const char *key)
{
    FILE *stream = fopen (file, "r");
    if (!stream)
        return 0;
    char line [1024], section [256] = "";
    int number = 0, found = 0;
    while (!found && fgets (line, sizeof (line), stream)) {
        number++;
        size_t indent = strspn (line, " \t");
        size_t len = strcspn (line + indent, " \t=#\r\n\"");
        if (len == 0 || line [indent] == '#')
            continue;
        char name [512];
        snprintf (name, sizeof (name), "%s%s%.*s", indent? section: "",
                  indent? "/": "", (int) len, line + indent);
        if (!indent)
            snprintf (section, sizeof (section), "%.*s", (int) len, line);
        if (strcmp (name, key) == 0)
            found = number;
    }
    fclose (stream);
    return found;
}

/* Walks the tree under node (whose path is prefix) and warns once per key
   this fanfold does not know, naming it and its line: a misspelt
   worker_timout_ms would otherwise be ignored without a word. */
static void
s_warn_unknown (ff_topology_t *self, zconfig_t *node, const char *prefix, const char *file)
{
    for (zconfig_t *child = zconfig_child (node); child; child = zconfig_next (child)) {
        char key [512];
        const char *name = zconfig_name (child);
        snprintf (key, sizeof (key), "%s%s%s", prefix, *prefix? "/": "", name? name: "");
        size_t index, known = 0;
        for (index = 0; index < sizeof (s_known_keys) / sizeof (s_known_keys [0]); index++)
            if (strcmp (key, s_known_keys [index]) == 0)
                known = 1;
        if (!known) {
            int line = s_line_of (file, key);
            self->unknown++;
            if (line)
                ff_log_error ("warning: %s:%d: unknown topology key %s (ignored)", file, line, key);
            else
                ff_log_error ("warning: %s: unknown topology key %s (ignored)", file, key);
            continue;               /* what is under an unknown key is unknown too */
        }
        s_warn_unknown (self, child, key, file);
    }
}

static void
s_warn_unknown_keys (ff_topology_t *self, zconfig_t *root, const char *file)
{
    s_warn_unknown (self, root, "", file);
}

/* The clients endpoint of a topology without server/clients: "clients"
   in an ipc control's directory, or a tcp control's port + 2. */
static void
s_derive_clients (const char *control, char *out, size_t size)
{
    const char *slash = strrchr (control, '/'), *colon = strrchr (control, ':');
    long port = colon? strtol (colon + 1, NULL, 10): 0;
    if (strncmp (control, "ipc://", 6) == 0 && slash)
        snprintf (out, size, "%.*s/clients", (int) (slash - control), control);
    else
    if (strncmp (control, "tcp://", 6) == 0 && port > 0 && port <= 65533)
        snprintf (out, size, "%.*s:%ld", (int) (colon - control), control, port + 2);
    else
        snprintf (out, size, "%s", control);    /* refused below as busy, or unusable */
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
        { "fanfold/client_timeout_ms", 100, 3600000, NULL, 0 },
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
    char syntax [256] = "";
    root = s_zconfig_load (path, syntax, sizeof (syntax));
    if (!root) {
        if (*syntax)
            snprintf (error, error_size, "%s: not a valid ZPL topology file: %s", path, syntax);
        else
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
    keys [8].field = &self->settings.client_timeout_ms;
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
        "ventilator/control", "ventilator/tasks", "sink/results", "server/clients"
    };
    const char *binds [S_ENDPOINTS];
    char derived [PATH_MAX];
    for (index = 0; index < S_ENDPOINTS; index++) {
        binds [index] = zconfig_get (root, names [index], NULL);
        if (!binds [index] && index == FF_EP_CLIENTS && binds [FF_EP_CONTROL]) {
            s_derive_clients (binds [FF_EP_CONTROL], derived, sizeof (derived));
            binds [index] = derived;
        }
        if (!binds [index]) {
            snprintf (error, error_size, "%s: %s is missing", path, names [index]);
            goto fail;
        }
    }
    if (s_set_endpoints (self, binds,
                         zconfig_get (root, "ventilator/host", "localhost"),
                         zconfig_get (root, "sink/host", "localhost")))
        goto fail;
    for (index = 0; index < S_ENDPOINTS; index++) {
        /* checked once %u is expanded: that is the path that binds; a
           worker's task pipe adds "-N" to the tasks endpoint */
        char checked [PATH_MAX + 32], reason [PATH_MAX + 160];
        snprintf (checked, sizeof (checked), "%s%s", self->bind [index],
                  index == FF_EP_TASKS && strncmp (self->bind [index], "ipc://", 6) == 0
                  ? S_TASK_SUFFIX_MAX: "");
        if (ff_net_check_endpoint (checked, reason, sizeof (reason))) {
            if (index == FF_EP_TASKS && strncmp (checked, "ipc://", 6) == 0)
                snprintf (reason, sizeof (reason),
                          "the ipc path of a worker's task pipe (%s-N) can exceed the %d "
                          "characters a Unix socket address holds: use a shorter directory",
                          self->bind [index], FF_NET_IPC_PATH_MAX);
            snprintf (error, error_size, "%s: %s = \"%s\": %s", path, names [index],
                      binds [index], reason);
            goto fail;
        }
    }
    s_warn_unknown_keys (self, root, path);
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
             "    hwm = %d\n    linger_ms = %d\n    client_timeout_ms = %d\n"
             "ventilator\n    host = \"%s\"\n    control = \"%s\"\n    tasks = \"%s\"\n"
             "sink\n    host = \"%s\"\n    results = \"%s\"\n"
             "server\n    clients = \"%s\"\n",
             s->window, s->window_bytes, s->prefetch, s->batch, s->heartbeat_ms,
             s->worker_timeout_ms, s->hwm, s->linger_ms, s->client_timeout_ms,
             self->vent_host, self->bind [FF_EP_CONTROL], self->bind [FF_EP_TASKS],
             self->sink_host, self->bind [FF_EP_RESULTS], self->bind [FF_EP_CLIENTS]);
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

size_t
ff_topology_unknown_keys (ff_topology_t *self)
{
    return self->unknown;
}

const char *
ff_topology_runtime_base (void)
{
    /* the longest endpoint of a private run: BASE/fanfold-XXXXXX/task-N */
    const char *base = getenv ("XDG_RUNTIME_DIR");
    size_t longest = strlen ("/fanfold-XXXXXX/task") + strlen (S_TASK_SUFFIX_MAX);
    if (base && base [0] == '/' && strlen (base) + longest <= FF_NET_IPC_PATH_MAX
    &&  access (base, W_OK) == 0)
        return base;
    return "/tmp";
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
