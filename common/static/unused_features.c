/*  unused_features.c: the two features of the static libzmq and czmq that
    fanfold never uses, refused at link time instead of loaded at run time.
    czmq's zsock_bind asks systemd for sockets passed by socket activation,
    and libzmq carries the GSSAPI security mechanism: both pull a shared
    library (libsystemd, libgssapi_krb5) and 12 more that they depend on,
    about 1.5 ms of every process start. fanfold binds its own sockets and
    secures tcp with CURVE (ZMQ_GSSAPI is never set), so here systemd passes
    no socket and every GSSAPI call fails with GSS_S_UNAVAILABLE.
    Linked only into static builds (Makefile, STATIC=yes), after the
    archives; never part of libfanfold.a.  */

#include <stddef.h>
#include <stdint.h>
#include <gssapi/gssapi.h>

/* systemd socket activation (sd-daemon.h): no socket was passed */
int sd_listen_fds (int unset_environment);
int sd_is_socket_unix (int fd, int type, int listening, const char *path, size_t length);
int sd_is_socket_inet (int fd, int family, int type, int listening, uint16_t port);

int
sd_listen_fds (int unset_environment)
{
    (void) unset_environment;
    return 0;
}

int
sd_is_socket_unix (int fd, int type, int listening, const char *path, size_t length)
{
    (void) fd; (void) type; (void) listening; (void) path; (void) length;
    return 0;
}

int
sd_is_socket_inet (int fd, int family, int type, int listening, uint16_t port)
{
    (void) fd; (void) family; (void) type; (void) listening; (void) port;
    return 0;
}

/* GSSAPI: the mechanism is unavailable; nothing is ever allocated, so the
   release calls have nothing to free */
static OM_uint32
s_unavailable (OM_uint32 *minor_status)
{
    if (minor_status)
        *minor_status = 0;
    return GSS_S_UNAVAILABLE;
}

static OM_uint32
s_released (OM_uint32 *minor_status)
{
    if (minor_status)
        *minor_status = 0;
    return GSS_S_COMPLETE;
}

OM_uint32
gss_accept_sec_context (OM_uint32 *minor, gss_ctx_id_t *context, gss_cred_id_t cred,
                        gss_buffer_t input, gss_channel_bindings_t bindings,
                        gss_name_t *source, gss_OID *mech, gss_buffer_t output,
                        OM_uint32 *flags, OM_uint32 *time, gss_cred_id_t *delegated)
{
    (void) context; (void) cred; (void) input; (void) bindings; (void) source;
    (void) mech; (void) output; (void) flags; (void) time; (void) delegated;
    return s_unavailable (minor);
}

OM_uint32
gss_acquire_cred (OM_uint32 *minor, gss_name_t name, OM_uint32 time_req,
                  gss_OID_set mechs, gss_cred_usage_t usage, gss_cred_id_t *cred,
                  gss_OID_set *actual, OM_uint32 *time)
{
    (void) name; (void) time_req; (void) mechs; (void) usage; (void) cred;
    (void) actual; (void) time;
    return s_unavailable (minor);
}

OM_uint32
gss_delete_sec_context (OM_uint32 *minor, gss_ctx_id_t *context, gss_buffer_t output)
{
    (void) context; (void) output;
    return s_released (minor);
}

OM_uint32
gss_display_name (OM_uint32 *minor, gss_name_t name, gss_buffer_t output, gss_OID *type)
{
    (void) name; (void) output; (void) type;
    return s_unavailable (minor);
}

OM_uint32
gss_import_name (OM_uint32 *minor, gss_buffer_t input, gss_OID type, gss_name_t *name)
{
    (void) input; (void) type; (void) name;
    return s_unavailable (minor);
}

OM_uint32
gss_init_sec_context (OM_uint32 *minor, gss_cred_id_t cred, gss_ctx_id_t *context,
                      gss_name_t target, gss_OID mech, OM_uint32 req_flags,
                      OM_uint32 time_req, gss_channel_bindings_t bindings,
                      gss_buffer_t input, gss_OID *actual, gss_buffer_t output,
                      OM_uint32 *flags, OM_uint32 *time)
{
    (void) cred; (void) context; (void) target; (void) mech; (void) req_flags;
    (void) time_req; (void) bindings; (void) input; (void) actual; (void) output;
    (void) flags; (void) time;
    return s_unavailable (minor);
}

OM_uint32
gss_release_buffer (OM_uint32 *minor, gss_buffer_t buffer)
{
    (void) buffer;
    return s_released (minor);
}

OM_uint32
gss_release_cred (OM_uint32 *minor, gss_cred_id_t *cred)
{
    (void) cred;
    return s_released (minor);
}

OM_uint32
gss_release_name (OM_uint32 *minor, gss_name_t *name)
{
    (void) name;
    return s_released (minor);
}

OM_uint32
gss_unwrap (OM_uint32 *minor, gss_ctx_id_t context, gss_buffer_t input,
            gss_buffer_t output, int *conf_state, gss_qop_t *qop)
{
    (void) context; (void) input; (void) output; (void) conf_state; (void) qop;
    return s_unavailable (minor);
}

OM_uint32
gss_wrap (OM_uint32 *minor, gss_ctx_id_t context, int conf_req, gss_qop_t qop,
          gss_buffer_t input, int *conf_state, gss_buffer_t output)
{
    (void) context; (void) conf_req; (void) qop; (void) input; (void) conf_state;
    (void) output;
    return s_unavailable (minor);
}

/* the name types libzmq passes to gss_import_name (RFC 2744, 4.1: the
   standard object identifiers), which fail there like every call above */
static gss_OID_desc s_user_name = { 10, (void *) "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x01" };
static gss_OID_desc s_hostbased_service = { 10, (void *) "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04" };
gss_OID GSS_C_NT_USER_NAME = &s_user_name;
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &s_hostbased_service;
