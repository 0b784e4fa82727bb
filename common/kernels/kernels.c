/*  fanfold built-in kernels. noop echoes; sleep waits ms= (with jitter=1 a
    fraction of it derived from the seq); spin burns us= of CPU time. Both
    sleep and spin echo their payload so that raw output equals the input. */

#include "fanfold/kernels/kernels.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parses a non-negative finite number. Returns 0 or -1. */
int
ff_parse_number (const char *text, double *value)
{
    char *end;
    errno = 0;
    double parsed = strtod (text, &end);
    if (errno || end == text || *end || !isfinite (parsed) || parsed < 0)
        return -1;
    *value = parsed;
    return 0;
}

static int
s_bad_param (ff_result_t *out, const char *kernel, const char *key,
             const char *value)
{
    char message [256];
    snprintf (message, sizeof (message),
              "%s: parameter %s=%.64s is not a non-negative number",
              kernel, key, value);
    ff_buf_puts (&out->data, message);
    return -1;
}

static int
s_noop_run (const ff_task_t *task, ff_result_t *out)
{
    return ff_buf_append (&out->data, task->data, task->size);
}

/* A well-mixed 64-bit hash of the seq (splitmix64's finaliser). */
static uint64_t
s_mix (uint64_t value)
{
    value += 0x9e3779b97f4a7c15ull;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

/* The sleep time: ms=, or without it the payload itself ("250": 250 ms),
   so that each task of a job can say how long it takes. */
static int
s_sleep_ms (const ff_task_t *task, double *ms, char *text, size_t size)
{
    const char *param = ff_task_param (task, "ms", NULL);
    if (param)
        snprintf (text, size, "%s", param);
    else
        snprintf (text, size, "%.*s", (int) (task->size < size - 1? task->size: size - 1),
                  (const char *) task->data);
    text [strcspn (text, "\n")] = 0;
    return ff_parse_number (text, ms) || *ms > 86400e3? -1: 0;
}

static int
s_sleep_run (const ff_task_t *task, ff_result_t *out)
{
    double ms;
    char text [64];
    /* the task's start: the sleep ends ms after it, whatever the parsing
       and a signal that interrupts it cost */
    struct timespec until;
    clock_gettime (CLOCK_MONOTONIC, &until);
    if (s_sleep_ms (task, &ms, text, sizeof (text)))
        return s_bad_param (out, "sleep", "ms", text);
    const char *jitter = ff_task_param (task, "jitter", "0");
    if (strcmp (jitter, "0") != 0)
        ms *= (double) (s_mix (task->seq) % 1000) / 1000.0;
    until.tv_sec += (time_t) (ms / 1000);
    until.tv_nsec += (long) (fmod (ms, 1000.0) * 1e6);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    /* a signal does not cut the task short: sleep on to the same end */
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
    return ff_buf_append (&out->data, task->data, task->size);
}

static double
s_cpu_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
    return (double) now.tv_sec * 1e6 + (double) now.tv_nsec / 1e3;
}

static int
s_spin_run (const ff_task_t *task, ff_result_t *out)
{
    double us;
    const char *text = ff_task_param (task, "us", "0");
    if (ff_parse_number (text, &us) || us > 86400e6)
        return s_bad_param (out, "spin", "us", text);
    double start = s_cpu_us ();
    volatile uint64_t churn = task->seq;
    /* the thread CPU clock is a system call: read it every few microseconds,
       so that the time burnt is user time */
    while (s_cpu_us () - start < us)
        for (int round = 0; round < 8192; round++)
            churn = s_mix (churn);
    return ff_buf_append (&out->data, task->data, task->size);
}

static double
s_size_cost (const ff_task_t *task)
{
    return (double) task->size;
}

static double
s_sleep_cost (const ff_task_t *task)
{
    double ms;
    char text [64];
    if (s_sleep_ms (task, &ms, text, sizeof (text)))
        return 0;
    return ms * 1e3;
}

static double
s_spin_cost (const ff_task_t *task)
{
    double us;
    if (ff_parse_number (ff_task_param (task, "us", "0"), &us))
        return 0;
    return us;
}

#include "fanfold/kernels/exec.h"
#include "fanfold/kernels/detectors.h"

static const ff_kernel_t s_builtin [] = {
    { FF_KERNEL_ABI, 0, "noop", s_size_cost, s_noop_run, NULL },
    { FF_KERNEL_ABI, 0, "sleep", s_sleep_cost, s_sleep_run, NULL },
    { FF_KERNEL_ABI, 0, "spin", s_spin_cost, s_spin_run, NULL },
    { FF_KERNEL_ABI, 0, "exec", ff_exec_cost, ff_exec_run, NULL },
    FF_DETECTORS_KERNELS,           /* stats, contacts, hbonds, clashes, pistacking */
};

const ff_kernel_t *
ff_kernels_builtin (size_t *count)
{
    *count = sizeof (s_builtin) / sizeof (s_builtin [0]);
    return s_builtin;
}

/* Kernels loaded from plugins, after the built-ins. */
#define S_MAX_PLUGIN_KERNELS 64
static const ff_kernel_t *s_plugged [S_MAX_PLUGIN_KERNELS];
static size_t s_nplugged = 0;

const ff_kernel_t *
ff_kernels_find (const char *name)
{
    size_t count, index;
    const ff_kernel_t *kernels = ff_kernels_builtin (&count);
    for (index = 0; index < count; index++)
        if (strcmp (kernels [index].name, name) == 0)
            return &kernels [index];
    for (index = 0; index < s_nplugged; index++)
        if (strcmp (s_plugged [index]->name, name) == 0)
            return s_plugged [index];
    return NULL;
}

int
ff_kernels_validate (const char *path, const ff_kernel_t *kernels, size_t count,
                     size_t *fresh, char *error, size_t error_size)
{
    size_t index, other;
    *fresh = 0;
    for (index = 0; index < count; index++) {
        const ff_kernel_t *kernel = &kernels [index];
        if (kernel->abi != FF_KERNEL_ABI) {
            snprintf (error, error_size,
                      "%s: kernel %zu has ABI %u, this fanfold has %u: rebuild the plugin",
                      path, index, kernel->abi, FF_KERNEL_ABI);
            return -1;
        }
        if (!kernel->name || !*kernel->name || !kernel->run) {
            snprintf (error, error_size, "%s: kernel %zu has no %s", path, index,
                      kernel->run? "name": "run function");
            return -1;
        }
        int repeated = 0;
        for (other = 0; other < index; other++)
            if (strcmp (kernels [other].name, kernel->name) == 0)
                repeated = 1;
        if (!repeated && !ff_kernels_find (kernel->name))
            (*fresh)++;             /* a name already known keeps its kernel */
    }
    return 0;
}

int
ff_kernels_load (const char *path, char *error, size_t error_size)
{
    size_t count = 0, index;
    void *library = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf (error, error_size, "%s: cannot load plugin: %s", path, dlerror ());
        return -1;
    }
    ff_plugin_kernels_fn *entry = (ff_plugin_kernels_fn *) dlsym (library, FF_PLUGIN_SYMBOL);
    const ff_kernel_t *kernels = entry? entry (&count): NULL;
    if (!kernels || count == 0) {
        snprintf (error, error_size, "%s: not a fanfold plugin (no %s, or no kernels)",
                  path, FF_PLUGIN_SYMBOL);
        dlclose (library);
        return -1;
    }
    /* every kernel is checked before any is registered: a table entry
       must never point into a library that is closed again */
    size_t fresh = 0;
    if (ff_kernels_validate (path, kernels, count, &fresh, error, error_size)) {
        dlclose (library);
        return -1;
    }
    if (fresh > S_MAX_PLUGIN_KERNELS - s_nplugged) {
        snprintf (error, error_size, "%s: more than %d plugin kernels", path,
                  S_MAX_PLUGIN_KERNELS);
        dlclose (library);
        return -1;
    }
    for (index = 0; index < count; index++)
        if (!ff_kernels_find (kernels [index].name))
            s_plugged [s_nplugged++] = &kernels [index];
    return 0;                       /* the library stays loaded for good */
}

void
ff_kernels_list (char *out, size_t size)
{
    size_t count, index, used = 0;
    const ff_kernel_t *kernels = ff_kernels_builtin (&count);
    out [0] = 0;
    for (index = 0; index < count + s_nplugged && used < size; index++) {
        const char *name = index < count? kernels [index].name: s_plugged [index - count]->name;
        int len = snprintf (out + used, size - used, "%s%s", index? ", ": "", name);
        if (len < 0)
            break;
        used += (size_t) len;
    }
}

int
ff_kernels_split (const char *list, char **names, size_t max)
{
    size_t count = 0;
    const char *at = list;
    if (!list || !*list)
        return -1;
    while (1) {
        const char *comma = strchr (at, ',');
        size_t len = comma? (size_t) (comma - at): strlen (at);
        if (len == 0 || count == max)
            goto fail;
        names [count] = strndup (at, len);
        if (!names [count])
            goto fail;
        count++;
        if (!comma)
            break;
        at = comma + 1;
    }
    return (int) count;
fail:
    while (count > 0)
        free (names [--count]);
    return -1;
}

int
ff_kernels_run (const ff_kernel_t *kernel, const ff_task_t *task,
                ff_result_t *out)
{
    out->data.size = 0;
    out->meta.size = 0;
    if (!kernel) {
        ff_buf_puts (&out->data, "unknown kernel");
        return -1;
    }
    int rc = kernel->run (task, out);
    /* a failure that says nothing gets a word; one whose meta speaks (a
       command that ran and failed, its empty stdout its result) keeps it */
    if (rc != 0 && out->data.size == 0 && out->meta.size == 0)
        ff_buf_puts (&out->data, "kernel failed");
    return rc == 0? 0: -1;
}

void
ff_result_reset (ff_result_t *result, size_t keep)
{
    if (result->data.cap > keep) {
        free (result->data.data);
        memset (&result->data, 0, sizeof (result->data));
    }
    if (result->meta.cap > keep) {
        free (result->meta.data);
        memset (&result->meta, 0, sizeof (result->meta));
    }
}
