/*
 * tlsresume._core: the thin CPython binding of the tlsresume C core.
 *
 * CPython has no API for an ssl.SSLSession's SSL_SESSION*, so this file
 * reaches it by layout: PySSLSession is {PyObject_HEAD; SSL_SESSION *session;
 * PySSLContext *ctx} and PySSLContext, PySSLSocket start with SSL_CTX *ctx and
 * {PyObject *Socket; SSL *ssl} after the header, unchanged in CPython 3.8 to
 * 3.14.  Offsets come from object's basic size (larger in free-threaded
 * builds).  Every use is guarded: exact _ssl types first, then what OpenSSL
 * reports (via the core) must equal what the Python object reports.
 * Conveniences live in the Python modules; this file only converts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsresume.h"

/* The layouts below are those of CPython 3.8 .. 3.14: refuse others. */
#if PY_VERSION_HEX < 0x03080000 || PY_VERSION_HEX >= 0x030F0000
#error "tlsresume supports CPython 3.8 to 3.14 (ssl.SSLSession layout)"
#endif

/* OpenSSL types stay opaque here: the binding calls only the core. */
typedef struct ssl_session_st SSL_SESSION;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

typedef struct {
    PyObject *error;            /* tlsresume.Error */
    PyTypeObject *session_type; /* _ssl.SSLSession */
    PyTypeObject *context_type; /* _ssl._SSLContext */
    PyTypeObject *socket_type;  /* _ssl._SSLSocket */
    long server_protocol;       /* _ssl.PROTOCOL_TLS_SERVER */
    PyObject *protocol_getter;  /* _ssl._SSLContext.protocol (an int) */
    PyObject *options_getter;   /* _ssl._SSLContext.options (an int) */
    PyObject *hostname_getter;  /* _ssl._SSLContext.check_hostname */
} core_state;

/*
 * The session-id context CPython gives its client connections: <= 3.12 set
 * "Python\0" (7 bytes) on every SSL_CTX; 3.13+ (gh-105293) only on
 * server-side SSL objects.  OpenSSL refuses to resume a session whose
 * sid_ctx differs from the connection's, so sessions get this one.
 */
#if PY_VERSION_HEX >= 0x030D0000
static const uint8_t client_sid_ctx[1] = {0};
static const size_t client_sid_ctx_len = 0;
#else
static const uint8_t client_sid_ctx[7] = "Python";
static const size_t client_sid_ctx_len = 7;
#endif

static core_state *get_state(PyObject *module)
{
    return (core_state *)PyModule_GetState(module);
}

/* Byte offset of the first field after an object's header. */
static Py_ssize_t header_size(void)
{
    return PyBaseObject_Type.tp_basicsize;
}

static void **field(PyObject *obj, int index)
{
    return (void **)((char *)obj + header_size() + index * sizeof(void *));
}

/* ---- errors -------------------------------------------------------------- */

static PyObject *raise_code(core_state *st, int code, const char *msg)
{
    PyObject *exc, *v;

    /* Messages may hold paths in any encoding, cut at 255 bytes (maybe in
     * a UTF-8 sequence): never fail to decode them. */
    v = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    if (v == NULL)
        return NULL;
    exc = PyObject_CallFunctionObjArgs(st->error, v, NULL);
    Py_DECREF(v);
    if (exc == NULL)
        return NULL;
    v = PyLong_FromLong(code);
    if (v == NULL || PyObject_SetAttrString(exc, "code", v) < 0)
        goto fail;
    Py_DECREF(v);
    v = PyUnicode_FromString(tlsr_error_name(code));
    if (v == NULL || PyObject_SetAttrString(exc, "code_name", v) < 0)
        goto fail;
    Py_DECREF(v);
    PyErr_SetObject(st->error, exc);
    Py_DECREF(exc);
    return NULL;
fail:
    Py_XDECREF(v);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *raise_err(core_state *st, const struct tlsr_error *err)
{
    return raise_code(st, err->code != 0 ? err->code : TLSR_ESSL,
                      err->msg[0] != '\0' ? err->msg : "tlsresume error");
}

/* ---- session objects ----------------------------------------------------- */

/* tp has at least nfields pointer fields after the header (exactly that
 * many if exact: PySSLSession has no others). */
static int check_layout(PyTypeObject *tp, int nfields, int exact)
{
    Py_ssize_t want = header_size() + nfields * (Py_ssize_t)sizeof(void *);

    return exact ? tp->tp_basicsize == want : tp->tp_basicsize >= want;
}

/* What the session object itself reports must be what OpenSSL holds. */
static int guard_session(core_state *st, PyObject *obj, SSL_SESSION *sess,
                         struct tlsr_session_brief *info)
{
    struct tlsr_error err;
    PyObject *id = NULL, *t = NULL, *to = NULL, *tick = NULL;
    int ok = 0;

    if (tlsr_session_get_brief(sess, info, &err) != 0) {
        raise_err(st, &err);
        return -1;
    }
    id = PyObject_GetAttrString(obj, "id");
    t = PyObject_GetAttrString(obj, "time");
    to = PyObject_GetAttrString(obj, "timeout");
    tick = PyObject_GetAttrString(obj, "has_ticket");
    if (id == NULL || t == NULL || to == NULL || tick == NULL)
        goto done;
    ok = PyBytes_Check(id)
         && PyBytes_GET_SIZE(id) == (Py_ssize_t)info->session_id_len
         && memcmp(PyBytes_AS_STRING(id), info->session_id,
                   info->session_id_len) == 0
         && PyLong_Check(t) && PyLong_AsLongLong(t) == info->time
         && PyLong_Check(to) && PyLong_AsLongLong(to) == info->timeout
         && PyObject_IsTrue(tick) == (info->has_ticket != 0);
    if (PyErr_Occurred())
        ok = 0;
    else if (!ok)
        PyErr_SetString(PyExc_RuntimeError,
                        "ssl.SSLSession layout is not the expected one on "
                        "this Python: refusing to touch it");
done:
    Py_XDECREF(id);
    Py_XDECREF(t);
    Py_XDECREF(to);
    Py_XDECREF(tick);
    return ok ? 0 : -1;
}

/* The SSL_SESSION* (borrowed) of an ssl.SSLSession, NULL with an exception. */
static SSL_SESSION *session_ptr(core_state *st, PyObject *obj,
                                struct tlsr_session_brief *info)
{
    struct tlsr_session_brief scratch;
    SSL_SESSION *sess;

    if (info == NULL)
        info = &scratch;
    if (Py_TYPE(obj) != st->session_type) {
        PyErr_Format(PyExc_TypeError, "expected ssl.SSLSession, got %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (!check_layout(st->session_type, 2, 1)) {
        PyErr_SetString(PyExc_RuntimeError, "unexpected ssl.SSLSession size");
        return NULL;
    }
    sess = *field(obj, 0);
    if (sess == NULL) {
        raise_code(st, TLSR_EINVAL, "ssl.SSLSession holds no session");
        return NULL;
    }
    if (guard_session(st, obj, sess, info) < 0)
        return NULL;
    return sess;
}

static int check_context(core_state *st, PyObject *ctx);

/* A getter of _ssl._SSLContext itself on ctx: a subclass (ssl.SSLContext
 * wraps .options in an enum, others may override anything) cannot change
 * what the guards compare. */
static PyObject *context_get(PyObject *getter, PyObject *ctx)
{
    return Py_TYPE(getter)->tp_descr_get(getter, ctx,
                                         (PyObject *)Py_TYPE(ctx));
}

/* ctx.protocol as an int (the C getter: no enum), -1 with an exception. */
static long context_protocol(core_state *st, PyObject *ctx)
{
    PyObject *v;
    long p;

    v = context_get(st->protocol_getter, ctx);
    if (v == NULL)
        return -1;
    p = PyLong_AsLong(v);
    Py_DECREF(v);
    return p;
}

/* A client-capable ssl.SSLContext (or subclass), else an exception. */
static int check_client_context(core_state *st, PyObject *ctx)
{
    long p;

    if (check_context(st, ctx) < 0)
        return -1;
    if ((p = context_protocol(st, ctx)) == -1 && PyErr_Occurred())
        return -1;
    if (p == st->server_protocol) {
        raise_code(st, TLSR_EINVAL, "context is a server context "
                   "(PROTOCOL_TLS_SERVER): sessions resume on clients");
        return -1;
    }
    return 0;
}

static int check_context(core_state *st, PyObject *ctx)
{
    if (!PyObject_TypeCheck(ctx, st->context_type)) {
        PyErr_Format(PyExc_TypeError, "expected ssl.SSLContext, got %.100s",
                     Py_TYPE(ctx)->tp_name);
        return -1;
    }
    if (!check_layout(st->context_type, 1, 0)) {
        PyErr_SetString(PyExc_RuntimeError, "unexpected ssl.SSLContext size");
        return -1;
    }
    return 0;
}

/*
 * Wrap sess (ownership passes, also on failure) in a new ssl.SSLSession bound
 * to ctx, after giving it ctx's session-id context.
 */
static PyObject *session_wrap(core_state *st, SSL_SESSION *sess,
                              PyObject *ctx)
{
    struct tlsr_session_brief info;
    struct tlsr_error err;
    PyObject *obj;

    if (tlsr_session_set1_id_context(sess, client_sid_ctx,
                                     client_sid_ctx_len, &err) != 0) {
        tlsr_session_free(sess);
        return raise_err(st, &err);
    }
    if (!check_layout(st->session_type, 2, 1)) {
        tlsr_session_free(sess);
        PyErr_SetString(PyExc_RuntimeError, "unexpected ssl.SSLSession size");
        return NULL;
    }
    /* No constructor exists: allocate and fill what CPython's would. */
    obj = st->session_type->tp_alloc(st->session_type, 0);
    if (obj == NULL) {
        tlsr_session_free(sess);
        return NULL;
    }
    Py_INCREF(ctx);
    *field(obj, 0) = sess;
    *field(obj, 1) = ctx;
    if (guard_session(st, obj, sess, &info) < 0) {
        *field(obj, 0) = NULL;
        *field(obj, 1) = NULL;
        tlsr_session_free(sess);
        Py_DECREF(ctx);
        Py_DECREF(obj);
        return NULL;
    }
    return obj;
}

/* Session strings come from the wire (ALPN, SNI): never fail on them. */
static PyObject *text(const char *s)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *info_dict(const struct tlsr_session_info *in)
{
    return Py_BuildValue(
        "{s:i,s:N,s:k,s:N,s:N,s:y#,s:y#,s:L,s:L,s:L,s:L,s:O,s:O,s:k,s:k,"
        "s:k,s:O,s:k,s:N,s:N,s:O,s:N,s:N,s:L,s:y#,s:L,s:O,s:k}",
        "protocol_version", in->protocol_version,
        "protocol_name", text(in->protocol_name),
        "cipher_id", (unsigned long)in->cipher_id,
        "cipher_name", text(in->cipher_name),
        "cipher_rfc_name", text(in->cipher_rfc_name),
        "session_id", in->session_id, (Py_ssize_t)in->session_id_len,
        "sid_ctx", in->sid_ctx, (Py_ssize_t)in->sid_ctx_len,
        "time", (long long)in->time,
        "timeout", (long long)in->timeout,
        "expires", (long long)in->expires,
        "remaining", (long long)in->remaining,
        "resumable", in->resumable ? Py_True : Py_False,
        "has_ticket", in->has_ticket ? Py_True : Py_False,
        "ticket_len", (unsigned long)in->ticket_len,
        "ticket_lifetime_hint", (unsigned long)in->ticket_lifetime_hint,
        "ticket_age_add", (unsigned long)in->ticket_age_add,
        "has_ticket_age_add", in->has_ticket_age_add ? Py_True : Py_False,
        "max_early_data", (unsigned long)in->max_early_data,
        "alpn", text(in->alpn),
        "sni", text(in->sni),
        "has_peer", in->has_peer ? Py_True : Py_False,
        "peer_subject", text(in->peer_subject),
        "peer_issuer", text(in->peer_issuer),
        "peer_not_after", (long long)in->peer_not_after,
        "peer_sha256", in->peer_sha256,
        (Py_ssize_t)(in->has_peer ? sizeof(in->peer_sha256) : 0),
        "verify_result", (long long)in->verify_result,
        "extended_master_secret",
        in->extended_master_secret ? Py_True : Py_False,
        "master_key_len", (unsigned long)in->master_key_len);
}

/* ---- module functions: sessions ------------------------------------------ */

/* Refuse what cannot be resumed by a client later. */
static int check_resumable(core_state *st, PyObject *obj,
                           const struct tlsr_session_brief *info)
{
    PyObject *ctx = *field(obj, 1);
    long p;

    if (ctx != NULL && PyObject_TypeCheck(ctx, st->context_type)) {
        if ((p = context_protocol(st, ctx)) == -1 && PyErr_Occurred())
            return -1;
        if (p == st->server_protocol) {
            raise_code(st, TLSR_EINVAL, "session comes from a server-side "
                       "connection: only client sessions can be resumed");
            return -1;
        }
    }
    if (info->protocol_version >= 0x0304 && !info->has_ticket) {
        raise_code(st, TLSR_ENOTRESUMABLE,
                   "TLS 1.3 session has no ticket yet: read from the "
                   "connection first (tickets arrive after the handshake)");
        return -1;
    }
    if (info->session_id_len == 0 && !info->has_ticket) {
        raise_code(st, TLSR_ENOTRESUMABLE,
                   "session has neither a session id nor a ticket");
        return -1;
    }
    return 0;
}

/* Secret bytes on the stack are wiped; the compiler must not drop it. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n--)
        *v++ = 0;
}

/* One encode into a stack buffer in the common case (sessions are ~0.3-2
 * KB), ask-size-then-fill only for big ones. */
static PyObject *serialize(core_state *st, SSL_SESSION *sess, int format,
                           int lean)
{
    unsigned int flags = lean ? TLSR_SERIALIZE_LEAN : 0;
    struct tlsr_error err;
    uint8_t stack[8192];
    PyObject *out;
    size_t len = sizeof(stack);
    int rc;

    rc = tlsr_session_serialize(sess, format, flags, stack, &len, &err);
    if (rc == 0) {
        out = PyBytes_FromStringAndSize((const char *)stack, (Py_ssize_t)len);
        wipe(stack, len);
        return out;
    }
    if (rc != TLSR_EBUFSIZE)
        return raise_err(st, &err);
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (out == NULL)
        return NULL;
    if (tlsr_session_serialize(sess, format, flags,
                               (uint8_t *)PyBytes_AS_STRING(out), &len,
                               &err) != 0) {
        Py_DECREF(out);
        return raise_err(st, &err);
    }
    if ((Py_ssize_t)len != PyBytes_GET_SIZE(out)
        && _PyBytes_Resize(&out, (Py_ssize_t)len) < 0)
        return NULL;
    return out;
}

static PyObject *core_dumps(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_session_brief info;
    struct tlsr_error err;
    PyObject *obj, *out;
    SSL_SESSION *sess, *copy = NULL;
    int format, lean;

    if (!PyArg_ParseTuple(args, "Oip:dumps", &obj, &format, &lean))
        return NULL;
    if ((sess = session_ptr(st, obj, &info)) == NULL)
        return NULL;
    if (check_resumable(st, obj, &info) < 0)
        return NULL;
    /* Files carry the empty session-id context OpenSSL, Node and nginx
     * clients use (CPython <= 3.12 stamps "Python\0"); loads() stamps the
     * target's.  A copy is changed: the live session stays as it is. */
    if (info.sid_ctx_len > 0) {
        if ((copy = tlsr_session_dup(sess, &err)) == NULL)
            return raise_err(st, &err);
        if (tlsr_session_set1_id_context(copy, NULL, 0, &err) != 0) {
            tlsr_session_free(copy);
            return raise_err(st, &err);
        }
        sess = copy;
    }
    out = serialize(st, sess, format, lean);
    tlsr_session_free(copy);
    return out;
}

static SSL_CTX *context_policy(core_state *st, PyObject *ctx,
                               const char *host, struct tlsr_trust *policy);

/* Bytes restored by hand carry no trust record: a context that verifies
 * takes them only if their own verify result says the check passed. */
static int check_loaded_trust(core_state *st, SSL_SESSION *sess,
                              PyObject *ctx)
{
    struct tlsr_trust policy;
    struct tlsr_session_info info;
    struct tlsr_error err;

    if (context_policy(st, ctx, NULL, &policy) == NULL)
        return -1;
    if (!policy.verify)
        return 0;
    if (tlsr_session_inspect(sess, 0, &info, &err) != 0) {
        raise_err(st, &err);
        return -1;
    }
    if (info.verify_result != 0) {
        raise_code(st, TLSR_ETRUST,
                   "the session was made without a successful certificate "
                   "check, and this context verifies (verify_mode "
                   "CERT_NONE would take it)");
        return -1;
    }
    return 0;
}

static PyObject *core_loads(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    Py_buffer data;
    PyObject *ctx, *out = NULL;
    SSL_SESSION *sess;

    if (!PyArg_ParseTuple(args, "y*O:loads", &data, &ctx))
        return NULL;
    if (check_client_context(st, ctx) < 0)
        goto done;
    sess = tlsr_session_parse(data.buf, (size_t)data.len, &err);
    if (sess == NULL) {
        raise_err(st, &err);
        goto done;
    }
    if (check_loaded_trust(st, sess, ctx) < 0) {
        tlsr_session_free(sess);
        goto done;
    }
    out = session_wrap(st, sess, ctx);
done:
    PyBuffer_Release(&data);
    return out;
}

static PyObject *core_inspect(PyObject *m, PyObject *obj)
{
    core_state *st = get_state(m);
    struct tlsr_session_info info;
    struct tlsr_error err;
    SSL_SESSION *sess, *owned = NULL;
    int rc;

    if (Py_TYPE(obj) == st->session_type) {
        if ((sess = session_ptr(st, obj, NULL)) == NULL)
            return NULL;
    } else if (PyObject_CheckBuffer(obj) && !PyUnicode_Check(obj)) {
        Py_buffer data;
        if (PyObject_GetBuffer(obj, &data, PyBUF_SIMPLE) < 0)
            return NULL;
        owned = sess = tlsr_session_parse(data.buf, (size_t)data.len, &err);
        PyBuffer_Release(&data);
        if (sess == NULL)
            return raise_err(st, &err);
    } else {
        return PyErr_Format(PyExc_TypeError,
                            "expected ssl.SSLSession or bytes, got %.100s",
                            Py_TYPE(obj)->tp_name);
    }
    rc = tlsr_session_inspect(sess, 0, &info, &err);
    tlsr_session_free(owned);
    if (rc != 0)
        return raise_err(st, &err);
    return info_dict(&info);
}

/* The ticket of a session given as ssl.SSLSession or bytes. */
static PyObject *core_ticket(PyObject *m, PyObject *obj)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    SSL_SESSION *sess, *owned = NULL;
    PyObject *out = NULL;
    size_t len = 0;

    if (Py_TYPE(obj) == st->session_type) {
        if ((sess = session_ptr(st, obj, NULL)) == NULL)
            return NULL;
    } else {
        Py_buffer data;
        if (PyObject_GetBuffer(obj, &data, PyBUF_SIMPLE) < 0)
            return NULL;
        owned = sess = tlsr_session_parse(data.buf, (size_t)data.len, &err);
        PyBuffer_Release(&data);
        if (sess == NULL)
            return raise_err(st, &err);
    }
    if (tlsr_session_get_ticket(sess, NULL, &len, &err) != 0) {
        raise_err(st, &err);
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (out == NULL)
        goto done;
    if (len > 0 && tlsr_session_get_ticket(
                       sess, (uint8_t *)PyBytes_AS_STRING(out), &len,
                       &err) != 0) {
        Py_CLEAR(out);
        raise_err(st, &err);
    }
done:
    tlsr_session_free(owned);
    return out;
}

static PyObject *core_error_name(PyObject *m, PyObject *arg)
{
    long code = PyLong_AsLong(arg);

    if (code == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(
        tlsr_error_name(code < -1000 || code > 0 ? 1 : (int)code));
}

static PyObject *core_libssl_path(PyObject *m, PyObject *unused)
{
    struct tlsr_error err;
    char buf[4096];
    size_t len = sizeof(buf);

    if (tlsr_libssl_path(buf, &len, &err) != 0)
        return raise_err(get_state(m), &err);
    return PyUnicode_DecodeFSDefault(buf);
}

static PyObject *core_versions(PyObject *m, PyObject *unused)
{
    return Py_BuildValue("(sk)", tlsr_version(), tlsr_openssl_version_num());
}

/* ---- live connections ---------------------------------------------------- */

/* The SSL_CTX* of an ssl.SSLContext, checked against its options. */
static SSL_CTX *context_ptr(core_state *st, PyObject *ctx)
{
    PyObject *opts;
    unsigned long long want;
    SSL_CTX *sctx;

    if (check_context(st, ctx) < 0)
        return NULL;
    sctx = *field(ctx, 0);
    opts = context_get(st->options_getter, ctx);
    if (opts == NULL)
        return NULL;
    want = PyLong_AsUnsignedLongLongMask(opts);
    Py_DECREF(opts);
    if (PyErr_Occurred())
        return NULL;
    if (sctx == NULL || tlsr_ctx_get_options(sctx) != want) {
        PyErr_SetString(PyExc_RuntimeError,
                        "ssl.SSLContext layout is not the expected one on "
                        "this Python: refusing to touch it");
        return NULL;
    }
    return sctx;
}

/*
 * The trust rule's view of ctx (csrc/trust.c): whether its connections
 * verify, with which parameters, and whether they check host (CPython
 * sets the name on each SSL from server_hostname when check_hostname).
 */
static SSL_CTX *context_policy(core_state *st, PyObject *ctx,
                               const char *host, struct tlsr_trust *policy)
{
    struct tlsr_error err;
    SSL_CTX *sctx = context_ptr(st, ctx);
    PyObject *v;
    int check;

    if (sctx == NULL || (v = context_get(st->hostname_getter, ctx)) == NULL)
        return NULL;
    check = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (check < 0)
        return NULL;
    if (tlsr_trust_policy_ctx(sctx, check ? host : NULL, policy, &err) != 0) {
        raise_err(st, &err);
        return NULL;
    }
    return sctx;
}

/* ---- the store ----------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    struct tlsr_attach *att;
    PyObject *module;
    /* close() while calls run without the GIL: the last one frees it. */
    struct tlsr_attach *closing;
    int busy;
    int restore_lean;   /* attach() restores lean (not decode_peer) */
} StoreObject;

static int store_ok(StoreObject *self)
{
    if (self->att == NULL) {
        PyErr_SetString(PyExc_ValueError, "store is closed");
        return 0;
    }
    return 1;
}

/*
 * The attach a call uses while it has released the GIL (NULL with an
 * exception if closed).  close() may run meanwhile: the call keeps its own
 * pointer, and the free waits for the matching store_leave().
 */
static struct tlsr_attach *store_enter(StoreObject *self)
{
    if (!store_ok(self))
        return NULL;
    self->busy++;
    return self->att;
}

static void store_leave(StoreObject *self)
{
    struct tlsr_attach *att = self->closing;

    if (--self->busy > 0 || att == NULL)
        return;
    self->closing = NULL;
    Py_BEGIN_ALLOW_THREADS
    tlsr_attach_free(att);
    Py_END_ALLOW_THREADS
}

static int store_init(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "max_tickets", "max_entries",
                             "max_lifetime", "seal_key", "lean",
                             "decode_peer", NULL};
    core_state *st = get_state(self->module);
    struct tlsr_store_options opts;
    struct tlsr_error err;
    struct tlsr_store *store;
    PyObject *path = NULL;
    Py_buffer key = {0};
    unsigned int max_tickets = 0, max_entries = 0;
    long long max_lifetime = 0;
    int lean = 0, decode_peer = 0;

    if (self->att != NULL || self->closing != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "store already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|IILz*pp:Store", kwlist,
                                     PyUnicode_FSConverter, &path,
                                     &max_tickets, &max_entries,
                                     &max_lifetime, &key, &lean,
                                     &decode_peer))
        return -1;
    tlsr_store_options_init(&opts);
    if (max_tickets)
        opts.max_tickets = max_tickets;
    if (max_entries)
        opts.max_entries = max_entries;
    if (max_lifetime)
        opts.max_lifetime = max_lifetime;
    if (key.buf != NULL) {
        opts.seal_key = key.buf;
        opts.seal_key_len = (size_t)key.len;
    }
    if (lean)
        opts.flags |= TLSR_STORE_LEAN;
    self->restore_lean = !decode_peer;
    Py_BEGIN_ALLOW_THREADS
    store = tlsr_store_open(PyBytes_AS_STRING(path), &opts, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (key.buf != NULL)
        PyBuffer_Release(&key);
    if (store == NULL) {
        raise_err(st, &err);
        return -1;
    }
    if (self->att != NULL || self->closing != NULL) {
        /* another __init__ ran while the GIL was released */
        tlsr_store_free(store);
        PyErr_SetString(PyExc_RuntimeError, "store already open");
        return -1;
    }
    self->att = tlsr_attach_new(store, &err);
    if (self->att == NULL) {
        tlsr_store_free(store);
        raise_err(st, &err);
        return -1;
    }
    return 0;
}

static PyObject *store_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    StoreObject *self = (StoreObject *)tp->tp_alloc(tp, 0);
    PyObject *mod;

    if (self == NULL)
        return NULL;
    /* The module is reachable from the type (PyType_GetModule, 3.9+) but
     * 3.8 lacks it: keep our own reference. */
    mod = PyImport_ImportModule("tlsresume._core");
    if (mod == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->module = mod;
    return (PyObject *)self;
}

static void store_dealloc(StoreObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    tlsr_attach_free(self->att);
    tlsr_attach_free(self->closing);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *store_close(StoreObject *self, PyObject *unused)
{
    struct tlsr_attach *att = self->att;

    self->att = NULL;
    if (att != NULL && self->busy > 0) {
        self->closing = att;    /* freed by the last call in flight */
        Py_RETURN_NONE;
    }
    Py_BEGIN_ALLOW_THREADS
    tlsr_attach_free(att);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *store_put(StoreObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    const char *host, *context;
    PyObject *obj;
    SSL_SESSION *sess;
    struct tlsr_attach *att;
    struct tlsr_store *store;
    int port, rc;

    SSL_SESSION *copy = NULL;
    SSL_CTX *sctx = NULL;
    struct tlsr_trust made, policy;
    PyObject *owner;

    if (!PyArg_ParseTuple(args, "siOs:put", &host, &port, &obj, &context))
        return NULL;
    if ((sess = session_ptr(st, obj, NULL)) == NULL)
        return NULL;
    /* A session captured by attach() carries what verified it; any other
     * is judged again by the context that made it (PySSLSession's ctx). */
    if (tlsr_session_get_trust(sess, &made, NULL) != 0) {
        owner = (PyObject *)*field(obj, 1);
        if (owner == NULL
            || (sctx = context_policy(st, owner, host, &policy)) == NULL)
            return NULL;
        if ((copy = tlsr_session_dup(sess, &err)) == NULL)
            return raise_err(st, &err);
    }
    if ((att = store_enter(self)) == NULL) {
        tlsr_session_free(copy);
        return NULL;
    }
    /* The object keeps the session alive while the GIL is released. */
    Py_INCREF(obj);
    Py_BEGIN_ALLOW_THREADS
    rc = 0;
    if (copy != NULL) {
        rc = tlsr_trust_from_session(copy, sctx,
                                     policy.check_host ? host : NULL, &made,
                                     &err);
        if (rc == 0)
            rc = tlsr_session_set1_trust(copy, &made, &err);
    }
    if (rc == 0) {
        store = tlsr_attach_lock(att);
        rc = tlsr_store_put(store, host, port, context,
                            copy != NULL ? copy : sess, &err);
        tlsr_attach_unlock(att);
    }
    Py_END_ALLOW_THREADS
    tlsr_session_free(copy);
    store_leave(self);
    Py_DECREF(obj);
    if (rc < 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* get(host, port, context, ctx, take, lean=False): SSLSession or None;
 * lean: no certificate decode (attach(), which keeps its bytes on the
 * connection), unless the store was opened with decode_peer. */
static PyObject *store_get(StoreObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    const char *host, *context;
    PyObject *ctx;
    SSL_SESSION *sess;
    SSL_CTX *sctx;
    struct tlsr_trust policy;
    struct tlsr_attach *att;
    struct tlsr_store *store;
    int port, take, lean = 0;

    if (!PyArg_ParseTuple(args, "sisOp|p:get", &host, &port, &context, &ctx,
                          &take, &lean))
        return NULL;
    if (check_client_context(st, ctx) < 0
        || (sctx = context_policy(st, ctx, host, &policy)) == NULL
        || (att = store_enter(self)) == NULL)
        return NULL;
    /* ctx stays alive (the caller's reference) while the GIL is released. */
    Py_BEGIN_ALLOW_THREADS
    store = tlsr_attach_lock(att);
    tlsr_store_set_restore_lean(store, lean && self->restore_lean);
    sess = take ? tlsr_store_take(store, host, port, context, &policy, sctx,
                                  &err)
                : tlsr_store_get(store, host, port, context, &policy, sctx,
                                 &err);
    tlsr_attach_unlock(att);
    Py_END_ALLOW_THREADS
    store_leave(self);
    if (sess == NULL) {
        /* A refused entry is a miss like any other: the next full
         * handshake stores one this context accepts. */
        if (err.code == TLSR_ENOTFOUND || err.code == TLSR_ETRUST)
            Py_RETURN_NONE;
        return raise_err(st, &err);
    }
    return session_wrap(st, sess, ctx);
}

static PyObject *store_remove(StoreObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    const char *host, *context;
    struct tlsr_attach *att;
    struct tlsr_store *store;
    int port, rc;

    if (!PyArg_ParseTuple(args, "sis:remove", &host, &port, &context))
        return NULL;
    if ((att = store_enter(self)) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    store = tlsr_attach_lock(att);
    rc = tlsr_store_remove(store, host, port, context, &err);
    tlsr_attach_unlock(att);
    Py_END_ALLOW_THREADS
    store_leave(self);
    if (rc < 0)
        return raise_err(st, &err);
    return PyLong_FromLong(rc);
}

/* prune() and count(): a whole-store call without the GIL. */
static PyObject *store_whole(StoreObject *self,
                             int (*call)(struct tlsr_store *,
                                         struct tlsr_error *))
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    struct tlsr_attach *att;
    struct tlsr_store *store;
    int rc;

    if ((att = store_enter(self)) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    store = tlsr_attach_lock(att);
    rc = call(store, &err);
    tlsr_attach_unlock(att);
    Py_END_ALLOW_THREADS
    store_leave(self);
    if (rc < 0)
        return raise_err(st, &err);
    return PyLong_FromLong(rc);
}

static PyObject *store_prune(StoreObject *self, PyObject *unused)
{
    return store_whole(self, tlsr_store_prune);
}

static PyObject *store_count(StoreObject *self, PyObject *unused)
{
    return store_whole(self, tlsr_store_count);
}

/*
 * The walk, without the GIL (it reads every file): entries are copied into
 * a malloc'd array under the store lock, Python objects built after the
 * unlock.  Never wait for the GIL while holding the lock: a thread holding
 * the GIL may free an SSLContext whose release takes the same lock.
 * Returns the count, or < 0 (a TLSR_E* code in err; TLSR_ENOMEM too).
 */
static int collect_entries(struct tlsr_attach *att,
                           struct tlsr_store_entry **out,
                           struct tlsr_error *err)
{
    struct tlsr_store_entry *v = NULL, *grown;
    struct tlsr_store_iter *it;
    struct tlsr_store *store;
    size_t n = 0, cap = 0;
    int rc = 0;

    store = tlsr_attach_lock(att);
    it = tlsr_store_iter_new(store, err);
    if (it == NULL)
        rc = err->code != 0 ? err->code : TLSR_ESSL;
    while (it != NULL) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            grown = cap > (size_t)INT_MAX ? NULL
                                          : realloc(v, cap * sizeof(*v));
            if (grown == NULL) {
                err->code = rc = TLSR_ENOMEM;
                snprintf(err->msg, sizeof(err->msg), "out of memory");
                break;
            }
            v = grown;
        }
        if ((rc = tlsr_store_iter_next(it, &v[n], err)) != 1)
            break;
        n++;
    }
    tlsr_store_iter_free(it);
    tlsr_attach_unlock(att);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    return (int)n;
}

/* All entries as a list of (host, port, context, sealed, info dict). */
static PyObject *store_entries(StoreObject *self, PyObject *unused)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    struct tlsr_store_entry *v = NULL;
    struct tlsr_attach *att;
    PyObject *list, *item, *info;
    int i, n;

    if ((att = store_enter(self)) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    n = collect_entries(att, &v, &err);
    Py_END_ALLOW_THREADS
    store_leave(self);
    if (n < 0)
        return raise_err(st, &err);
    list = PyList_New(n);
    for (i = 0; list != NULL && i < n; i++) {
        info = info_dict(&v[i].info);
        item = info == NULL ? NULL
                            : Py_BuildValue("(NiNON)", text(v[i].host),
                                            v[i].port, text(v[i].context),
                                            v[i].sealed ? Py_True : Py_False,
                                            info);
        if (item == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, item);
    }
    free(v);
    return list;
}

/* attach_context(ctx): save ctx's new client sessions here. */
static PyObject *store_attach_context(StoreObject *self, PyObject *ctx)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    SSL_CTX *sctx;

    if (!store_ok(self) || check_client_context(st, ctx) < 0
        || (sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if (tlsr_attach_ctx(self->att, sctx, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* ---- servers: the session cache shared through a store ------------------- */

/* The first store failure of a server cache, as a RuntimeWarning.  Runs
 * on the handshake's thread, usually with the GIL released by _ssl. */
static void server_cache_warn(void *arg, int code, const char *msg)
{
    PyGILState_STATE g;
    PyObject *et, *ev, *tb;

#if PY_VERSION_HEX >= 0x030D0000
    if (!Py_IsInitialized() || Py_IsFinalizing())
#else
    if (!Py_IsInitialized() || _Py_IsFinalizing())
#endif
        return;
    g = PyGILState_Ensure();
    PyErr_Fetch(&et, &ev, &tb);     /* e.g. SSL_free during an unwind */
    if (PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                         "tlsresume: server session cache: %s", msg) < 0)
        PyErr_WriteUnraisable(NULL);
    PyErr_Restore(et, ev, tb);
    PyGILState_Release(g);
}

/* ctx's server sessions in sc (a new cache, or NULL and err): warnings
 * as RuntimeWarning; sc's reference is dropped (ctx keeps its own). */
static PyObject *serve_from(core_state *st, struct tlsr_server_cache *sc,
                            SSL_CTX *sctx, struct tlsr_error *err)
{
    int rc;

    if (sc == NULL)
        return raise_err(st, err);
    rc = tlsr_server_cache_set_warn(sc, server_cache_warn, NULL, err);
    if (rc == 0)
        rc = tlsr_server_cache_ctx(sc, sctx, err);
    tlsr_server_cache_free(sc);
    if (rc != 0)
        return raise_err(st, err);
    Py_RETURN_NONE;
}

/* server_cache(ctx, scope): ctx's server sessions live in this store. */
static PyObject *store_server_cache(StoreObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_server_cache *sc;
    struct tlsr_store *store;
    struct tlsr_error err;
    const char *scope;
    PyObject *ctx;
    SSL_CTX *sctx;

    if (!PyArg_ParseTuple(args, "Os:server_cache", &ctx, &scope))
        return NULL;
    if (!store_ok(self) || (sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    store = tlsr_attach_lock(self->att);
    sc = tlsr_server_cache_new(store, scope, &err);
    tlsr_attach_unlock(self->att);
    return serve_from(st, sc, sctx, &err);
}

/* server_cache_detach(ctx): OpenSSL's internal cache again. */
static PyObject *core_server_cache_detach(PyObject *m, PyObject *ctx)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    SSL_CTX *sctx;

    if ((sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if (tlsr_server_cache_ctx(NULL, sctx, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* server_cache_stats(ctx): a dict, or None if ctx has no cache. */
static PyObject *core_server_cache_stats(PyObject *m, PyObject *ctx)
{
    core_state *st = get_state(m);
    struct tlsr_server_cache_stats s;
    struct tlsr_server_cache *sc;
    struct tlsr_error err;
    SSL_CTX *sctx;
    int rc;

    if ((sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if ((sc = tlsr_server_cache_get(sctx)) == NULL)
        Py_RETURN_NONE;
    rc = tlsr_server_cache_stats(sc, &s, &err);
    tlsr_server_cache_free(sc);
    if (rc != 0)
        return raise_err(st, &err);
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:s}",
                         "stored", (unsigned long long)s.stored,
                         "hits", (unsigned long long)s.hits,
                         "misses", (unsigned long long)s.misses,
                         "removed", (unsigned long long)s.removed,
                         "failures", (unsigned long long)s.failures,
                         "full", (unsigned long long)s.full,
                         "dropped", (unsigned long long)s.dropped,
                         "first_error", s.first_error);
}

/*
 * server_cache_flush(ctx, timeout_ms): write what ctx's server cache has
 * queued (timeout_ms < 0: no limit).  True when none is left, False when
 * the time ran out; True as well for a context without a cache.
 */
static PyObject *core_server_cache_flush(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_server_cache *sc;
    struct tlsr_error err;
    PyObject *ctx;
    SSL_CTX *sctx;
    int ms, rc;

    if (!PyArg_ParseTuple(args, "Oi:server_cache_flush", &ctx, &ms))
        return NULL;
    if ((sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if ((sc = tlsr_server_cache_get(sctx)) == NULL)
        Py_RETURN_TRUE;
    /* The writer never needs the GIL; the warn hook takes it. */
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_server_cache_flush(sc, ms, &err);
    tlsr_server_cache_free(sc);
    Py_END_ALLOW_THREADS
    if (rc == TLSR_EIO)
        Py_RETURN_FALSE;
    if (rc < 0)
        return raise_err(st, &err);
    Py_RETURN_TRUE;
}

static PyMethodDef server_cache_functions[] = {
    {"server_cache_detach", core_server_cache_detach, METH_O, NULL},
    {"server_cache_stats", core_server_cache_stats, METH_O, NULL},
    {"server_cache_flush", core_server_cache_flush, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};

static PyMethodDef store_methods[] = {
    {"close", (PyCFunction)store_close, METH_NOARGS, NULL},
    {"put", (PyCFunction)store_put, METH_VARARGS, NULL},
    {"get", (PyCFunction)store_get, METH_VARARGS, NULL},
    {"remove", (PyCFunction)store_remove, METH_VARARGS, NULL},
    {"prune", (PyCFunction)store_prune, METH_NOARGS, NULL},
    {"count", (PyCFunction)store_count, METH_NOARGS, NULL},
    {"entries", (PyCFunction)store_entries, METH_NOARGS, NULL},
    {"attach_context", (PyCFunction)store_attach_context, METH_O, NULL},
    {"server_cache", (PyCFunction)store_server_cache, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};

static PyType_Slot store_slots[] = {
    {Py_tp_new, store_new},
    {Py_tp_init, store_init},
    {Py_tp_dealloc, store_dealloc},
    {Py_tp_methods, store_methods},
    {Py_tp_doc, "Store(path, max_tickets=0, max_entries=0, max_lifetime=0, "
                "seal_key=None, lean=False, decode_peer=False): the C store (see "
                "SessionStore)."},
    {0, NULL}
};

static PyType_Spec store_spec = {
    "tlsresume._core.Store", sizeof(StoreObject), 0,
    Py_TPFLAGS_DEFAULT, store_slots
};

/* ---- entries as bytes, and captures for a network store (RedisStore) ---- */

typedef struct {
    PyObject_HEAD
    struct tlsr_codec *codec;
    PyObject *module;
} CodecObject;

static int codec_init(CodecObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"max_lifetime", "seal_key", "lean",
                             "restore_lean", NULL};
    core_state *st = get_state(self->module);
    struct tlsr_store_options opts;
    struct tlsr_error err;
    Py_buffer key = {0};
    long long max_lifetime = 0;
    int lean = 0, restore_lean = 0;

    if (self->codec != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "codec already made");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Lz*pp:Codec", kwlist,
                                     &max_lifetime, &key, &lean,
                                     &restore_lean))
        return -1;
    tlsr_store_options_init(&opts);
    if (max_lifetime)
        opts.max_lifetime = max_lifetime;
    if (key.buf != NULL) {
        opts.seal_key = key.buf;
        opts.seal_key_len = (size_t)key.len;
    }
    if (lean)
        opts.flags |= TLSR_STORE_LEAN;
    if (restore_lean)
        opts.flags |= TLSR_STORE_RESTORE_LEAN;
    self->codec = tlsr_codec_new(&opts, &err);
    if (key.buf != NULL)
        PyBuffer_Release(&key);
    if (self->codec == NULL) {
        raise_err(st, &err);
        return -1;
    }
    return 0;
}

static PyObject *module_new(PyTypeObject *tp, size_t module_off)
{
    PyObject *self = tp->tp_alloc(tp, 0), *mod;

    if (self == NULL)
        return NULL;
    if ((mod = PyImport_ImportModule("tlsresume._core")) == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    *(PyObject **)((char *)self + module_off) = mod;
    return self;
}

static PyObject *codec_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    return module_new(tp, offsetof(CodecObject, module));
}

static void codec_dealloc(CodecObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    tlsr_codec_free(self->codec);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int codec_ok(CodecObject *self)
{
    if (self->codec == NULL) {
        PyErr_SetString(PyExc_ValueError, "codec not initialized");
        return 0;
    }
    return 1;
}

/* bytes of the entry (or NULL with an exception), its expiry and kind. */
static PyObject *codec_bytes(core_state *st, struct tlsr_codec *codec,
                             const char *host, int port, const char *scope,
                             SSL_SESSION *sess, int64_t *expires, int *kind)
{
    struct tlsr_error err;
    uint8_t *buf = PyMem_Malloc(TLSR_ENTRY_MAX);
    size_t len = TLSR_ENTRY_MAX;
    PyObject *out;
    int rc;

    if (buf == NULL)
        return PyErr_NoMemory();
    rc = tlsr_entry_encode(codec, host, port, scope, sess, buf, &len,
                           expires, kind, &err);
    out = rc == 0 ? PyBytes_FromStringAndSize((char *)buf, (Py_ssize_t)len)
                  : raise_err(st, &err);
    wipe(buf, rc == 0 ? len : 0);
    PyMem_Free(buf);
    return out;
}

/* encode(host, port, scope, session) -> (bytes, expires, kind) */
static PyObject *codec_encode(CodecObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_trust made, policy;
    struct tlsr_error err;
    const char *host, *scope;
    SSL_SESSION *sess, *copy = NULL;
    SSL_CTX *sctx;
    PyObject *obj, *owner, *data;
    int64_t expires = 0;
    int port, kind = 0;

    if (!codec_ok(self)
        || !PyArg_ParseTuple(args, "sisO:encode", &host, &port, &scope, &obj)
        || (sess = session_ptr(st, obj, NULL)) == NULL)
        return NULL;
    /* As SessionStore.put: a session attach() did not capture is judged by
     * the context that made it. */
    if (tlsr_session_get_trust(sess, &made, NULL) != 0) {
        owner = (PyObject *)*field(obj, 1);
        if (owner == NULL
            || (sctx = context_policy(st, owner, host, &policy)) == NULL)
            return NULL;
        if ((copy = tlsr_session_dup(sess, &err)) == NULL
            || tlsr_trust_from_session(copy, sctx,
                                       policy.check_host ? host : NULL,
                                       &made, &err) != 0
            || tlsr_session_set1_trust(copy, &made, &err) != 0) {
            tlsr_session_free(copy);
            return raise_err(st, &err);
        }
    }
    data = codec_bytes(st, self->codec, host, port, scope,
                       copy != NULL ? copy : sess, &expires, &kind);
    tlsr_session_free(copy);
    if (data == NULL)
        return NULL;
    return Py_BuildValue("(NLi)", data, (long long)expires, kind);
}

/* decode(data, host, port, scope, ctx) -> SSLSession or None (another
 * key's, expired, or refused by ctx's trust rule); Error if unreadable. */
static PyObject *codec_decode(CodecObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_trust policy;
    struct tlsr_error err;
    const char *host, *scope;
    Py_buffer data;
    PyObject *ctx;
    SSL_SESSION *sess;
    SSL_CTX *sctx;
    int port;

    if (!codec_ok(self)
        || !PyArg_ParseTuple(args, "y*sisO:decode", &data, &host, &port,
                             &scope, &ctx))
        return NULL;
    if (check_client_context(st, ctx) < 0
        || (sctx = context_policy(st, ctx, host, &policy)) == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    sess = tlsr_entry_decode(self->codec, data.buf, (size_t)data.len, host,
                             port, scope, &policy, sctx, &err);
    PyBuffer_Release(&data);
    if (sess == NULL) {
        if (err.code == TLSR_ENOTFOUND || err.code == TLSR_ETRUST)
            Py_RETURN_NONE;
        return raise_err(st, &err);
    }
    return session_wrap(st, sess, ctx);
}

/*
 * server_cache(ctx, scope, host, port, path, user, password, db, prefix,
 *              timeout_ms, lookup_ms, retry_ms): ctx's server sessions in
 * Redis, as entries of this codec (RedisStore's).
 */
static PyObject *codec_server_cache(CodecObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_redis_options ro;
    struct tlsr_server_cache *sc;
    struct tlsr_error err;
    const char *scope;
    PyObject *ctx;
    SSL_CTX *sctx;

    tlsr_redis_options_init(&ro);
    if (!PyArg_ParseTuple(args, "Oszizzzisiii:server_cache", &ctx, &scope,
                          &ro.host, &ro.port, &ro.unix_path, &ro.username,
                          &ro.password, &ro.db, &ro.prefix, &ro.timeout_ms,
                          &ro.lookup_timeout_ms, &ro.retry_after_ms))
        return NULL;
    if (!codec_ok(self) || (sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS      /* resolves the host */
    sc = tlsr_server_cache_new_redis(&ro, self->codec, scope, &err);
    Py_END_ALLOW_THREADS
    return serve_from(st, sc, sctx, &err);
}

static PyMethodDef codec_methods[] = {
    {"encode", (PyCFunction)codec_encode, METH_VARARGS, NULL},
    {"decode", (PyCFunction)codec_decode, METH_VARARGS, NULL},
    {"server_cache", (PyCFunction)codec_server_cache, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};

static PyType_Slot codec_slots[] = {
    {Py_tp_new, codec_new},
    {Py_tp_init, codec_init},
    {Py_tp_dealloc, codec_dealloc},
    {Py_tp_methods, codec_methods},
    {Py_tp_doc, "Codec(max_lifetime=0, seal_key=None, lean=False, "
                "restore_lean=False): store "
                "entries as bytes (see RedisStore)."},
    {0, NULL}
};

static PyType_Spec codec_spec = {
    "tlsresume._core.Codec", sizeof(CodecObject), 0,
    Py_TPFLAGS_DEFAULT, codec_slots
};

/* entry_key(host, port, scope) -> 64 hex digits */
static PyObject *core_entry_key(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    const char *host, *scope;
    char buf[65];
    size_t len = sizeof(buf);
    int port;

    if (!PyArg_ParseTuple(args, "sis:entry_key", &host, &port, &scope))
        return NULL;
    if (tlsr_entry_key(host, port, scope, buf, &len, &err) != 0)
        return raise_err(st, &err);
    return PyUnicode_FromStringAndSize(buf, (Py_ssize_t)len);
}

typedef struct {
    PyObject_HEAD
    struct tlsr_attach *att;
    PyObject *module;
} CaptureObject;

static int capture_init(CaptureObject *self, PyObject *args, PyObject *kw)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;

    if (self->att != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "capture queue already made");
        return -1;
    }
    if (!PyArg_ParseTuple(args, ":Capture"))
        return -1;
    if ((self->att = tlsr_attach_new_queue(&err)) == NULL) {
        raise_err(st, &err);
        return -1;
    }
    return 0;
}

static PyObject *capture_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    return module_new(tp, offsetof(CaptureObject, module));
}

static void capture_dealloc(CaptureObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    tlsr_attach_free(self->att);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int capture_ok(CaptureObject *self)
{
    if (self->att == NULL) {
        PyErr_SetString(PyExc_ValueError, "capture queue not initialized");
        return 0;
    }
    return 1;
}

/* attach_context(ctx): ctx's new client sessions wait here. */
static PyObject *capture_attach_context(CaptureObject *self, PyObject *ctx)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    SSL_CTX *sctx;

    if (!capture_ok(self) || check_client_context(st, ctx) < 0
        || (sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if (tlsr_attach_ctx(self->att, sctx, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* pop(codec, timeout_ms) -> (host, port, scope, entry, expires, kind) or
 * None: the next capture, encoded; waits without the GIL.  Captures that
 * cannot be stored (expired, no id) are skipped. */
static PyObject *capture_pop(CaptureObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    CodecObject *codec;
    char host[256], scope[256];
    SSL_SESSION *sess = NULL;
    PyObject *data;
    int64_t expires = 0;
    int timeout, port = 0, kind = 0, rc;

    if (!capture_ok(self) || !PyArg_ParseTuple(args, "Oi:pop", &codec,
                                               &timeout))
        return NULL;
    if (Py_TYPE(codec)->tp_init != (initproc)codec_init || !codec_ok(codec))
        return PyErr_Format(PyExc_TypeError, "expected a Codec");
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        rc = tlsr_attach_pop(self->att, timeout, host, &port, scope, &sess,
                             &err);
        Py_END_ALLOW_THREADS
        if (rc < 0)
            return raise_err(st, &err);
        if (rc == 0)
            Py_RETURN_NONE;
        data = codec_bytes(st, codec->codec, host, port, scope, sess,
                           &expires, &kind);
        tlsr_session_free(sess);
        if (data != NULL)
            return Py_BuildValue("(sisNLi)", host, port, scope, data,
                                 (long long)expires, kind) ;
        PyErr_Clear();
        timeout = 0;
    }
}

static PyObject *capture_pending(CaptureObject *self, PyObject *unused)
{
    if (!capture_ok(self))
        return NULL;
    return PyLong_FromLong(tlsr_attach_pending(self->att));
}

static PyMethodDef capture_methods[] = {
    {"attach_context", (PyCFunction)capture_attach_context, METH_O, NULL},
    {"pop", (PyCFunction)capture_pop, METH_VARARGS, NULL},
    {"pending", (PyCFunction)capture_pending, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}
};

static PyType_Slot capture_slots[] = {
    {Py_tp_new, capture_new},
    {Py_tp_init, capture_init},
    {Py_tp_dealloc, capture_dealloc},
    {Py_tp_methods, capture_methods},
    {Py_tp_doc, "Capture(): new client sessions of attached "
                "contexts, queued for a network store (see RedisStore)."},
    {0, NULL}
};

static PyType_Spec capture_spec = {
    "tlsresume._core.Capture", sizeof(CaptureObject), 0,
    Py_TPFLAGS_DEFAULT, capture_slots
};

/* ---- connections --------------------------------------------------------- */

/* detach_context(ctx) */
static PyObject *core_detach_context(PyObject *m, PyObject *ctx)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    SSL_CTX *sctx;

    if ((sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if (tlsr_attach_ctx(NULL, sctx, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/*
 * flush_context(ctx, timeout_ms): write the sessions ctx's attach has
 * queued (timeout_ms < 0: no limit).  True when none is left, False when
 * the time ran out; True as well for a context that is not attached.
 */
static PyObject *core_flush_context(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    struct tlsr_attach *att;
    PyObject *ctx;
    SSL_CTX *sctx;
    int ms, rc;

    if (!PyArg_ParseTuple(args, "Oi:flush_context", &ctx, &ms))
        return NULL;
    if ((sctx = context_ptr(st, ctx)) == NULL)
        return NULL;
    if ((att = tlsr_attach_get(sctx)) == NULL)
        Py_RETURN_TRUE;
    /* The writer never needs the GIL; a store call holding the lock
     * neither. */
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_attach_flush(att, ms, &err);
    tlsr_attach_free(att);
    Py_END_ALLOW_THREADS
    if (rc == TLSR_EIO)
        Py_RETURN_FALSE;
    if (rc < 0)
        return raise_err(st, &err);
    Py_RETURN_TRUE;
}

/* The SSL* of an _ssl._SSLSocket, NULL with an exception.  Layout:
 * {PyObject *Socket; SSL *ssl; ...}; the core checks the SSL's app data is
 * this object (CPython sets it so) before using it. */
static SSL *socket_ssl(core_state *st, PyObject *obj)
{
    SSL *ssl;

    if (Py_TYPE(obj) != st->socket_type) {
        PyErr_Format(PyExc_TypeError, "expected _ssl._SSLSocket, got %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (!check_layout(st->socket_type, 2, 0)) {
        PyErr_SetString(PyExc_RuntimeError, "unexpected _SSLSocket size");
        return NULL;
    }
    ssl = *field(obj, 1);
    if (ssl == NULL)
        raise_code(st, TLSR_EINVAL, "connection has no SSL");
    return ssl;
}

/* attach_connection(sslobj, host, port, context): key for the callback. */
static PyObject *core_attach_connection(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    const char *host, *context;
    PyObject *obj;
    SSL *ssl;
    int port;

    if (!PyArg_ParseTuple(args, "Osis:attach_connection", &obj, &host, &port,
                          &context))
        return NULL;
    ssl = socket_ssl(st, obj);
    if (ssl == NULL)
        return NULL;
    if (tlsr_attach_ssl(ssl, obj, host, port, context, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* attach_offer(sslobj, session): the session offered to the connection,
 * whose trust record its new tickets keep if it resumes. */
static PyObject *core_attach_offer(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    PyObject *obj, *sobj;
    SSL_SESSION *sess;
    SSL *ssl;

    if (!PyArg_ParseTuple(args, "OO:attach_offer", &obj, &sobj))
        return NULL;
    if ((ssl = socket_ssl(st, obj)) == NULL
        || (sess = session_ptr(st, sobj, NULL)) == NULL)
        return NULL;
    if (tlsr_attach_offer(ssl, obj, sess, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* The SSL* of a live _ssl._SSLSocket, checked through its app data. */
static SSL *conn_ssl_checked(core_state *st, PyObject *obj)
{
    SSL *ssl = socket_ssl(st, obj);

    if (ssl != NULL && !tlsr_ssl_check_app_data(ssl, obj)) {
        raise_code(st, TLSR_EINVAL, "SSL does not belong to the connection");
        return NULL;
    }
    return ssl;
}

/* keep_peer(sslobj, session): CPython's setter copies the session through
 * i2d/d2i, dropping a lean restore's certificate bytes: keep them on the
 * SSL first. */
static PyObject *core_keep_peer(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    PyObject *obj, *sobj;
    SSL_SESSION *sess;
    SSL *ssl;

    if (!PyArg_ParseTuple(args, "OO:keep_peer", &obj, &sobj)
        || (ssl = conn_ssl_checked(st, obj)) == NULL
        || (sess = session_ptr(st, sobj, NULL)) == NULL)
        return NULL;
    if (tlsr_ssl_keep_peer(ssl, sess, &err) != 0)
        return raise_err(st, &err);
    Py_RETURN_NONE;
}

/* peer_decoded(session): whether the server certificate is decoded (an
 * X509 on the session), False for a lean restore; for tests. */
static PyObject *core_peer_decoded(PyObject *m, PyObject *sobj)
{
    SSL_SESSION *sess = session_ptr(get_state(m), sobj, NULL);

    if (sess == NULL)
        return NULL;
    return PyBool_FromLong(SSL_SESSION_get0_peer(sess) != NULL);
}

/* peer_der(sslobj): the server certificate's DER, kept or decoded; None. */
static PyObject *core_peer_der(PyObject *m, PyObject *obj)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    PyObject *out;
    size_t len = 0;
    SSL *ssl;

    if ((ssl = conn_ssl_checked(st, obj)) == NULL)
        return NULL;
    if (tlsr_ssl_get_peer_der(ssl, NULL, &len, &err) != 0)
        return raise_err(st, &err);
    if (len == 0)
        Py_RETURN_NONE;
    if ((out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len)) == NULL)
        return NULL;
    if (tlsr_ssl_get_peer_der(ssl, (uint8_t *)PyBytes_AS_STRING(out), &len,
                              &err) != 0) {
        Py_DECREF(out);
        return raise_err(st, &err);
    }
    return out;
}

/* early_max(sslobj, alpn_wire or None): bytes of early data possible. */
static PyObject *core_early_max(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    const char *alpn = NULL;
    Py_ssize_t alpn_len = 0;
    PyObject *obj;
    SSL *ssl;

    if (!PyArg_ParseTuple(args, "Oz#:early_max", &obj, &alpn, &alpn_len)
        || (ssl = conn_ssl_checked(st, obj)) == NULL)
        return NULL;
    return PyLong_FromUnsignedLong(tlsr_ssl_early_data_max(
        ssl, (const uint8_t *)alpn, (size_t)alpn_len));
}

/* write_early(sslobj, data): bytes written, or -TLSR_EARLY_WANT_*. */
static PyObject *core_write_early(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_error err;
    Py_buffer data;
    PyObject *obj;
    size_t written = 0;
    SSL *ssl;
    int rc;

    if (!PyArg_ParseTuple(args, "Oy*:write_early", &obj, &data))
        return NULL;
    if ((ssl = conn_ssl_checked(st, obj)) == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    /* The socket is blocking or non-blocking as CPython set it; like
     * CPython's own SSL calls, run without the GIL. */
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_ssl_write_early_data(ssl, data.buf, (size_t)data.len,
                                   &written, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (rc == TLSR_EARLY_WANT_READ || rc == TLSR_EARLY_WANT_WRITE)
        return PyLong_FromLong(-rc);
    if (rc != 0)
        return raise_err(st, &err);
    return PyLong_FromSize_t(written);
}

static PyObject *core_early_status(PyObject *m, PyObject *obj)
{
    SSL *ssl = conn_ssl_checked(get_state(m), obj);

    if (ssl == NULL)
        return NULL;
    return PyLong_FromLong(tlsr_ssl_get_early_data_status(ssl));
}

/* ---- probe (issue 11): runs without the GIL ------------------------------ */

/* probe(host, port, sni, ips, all_ips, tries, versions, mechanisms,
 *       early_data, request, timeout_ms, insecure, cafile) -> (json, exit) */
static PyObject *core_probe(PyObject *m, PyObject *args)
{
    core_state *st = get_state(m);
    struct tlsr_probe_opts o;
    struct tlsr_error err = { 0, "" };
    struct tlsr_probe *pr;
    const char *host, *sni, *cafile;
    const char *ipv[TLSR_PROBE_MAX_ADDRS];
    PyObject *ips, *request, *out = NULL, *item;
    Py_ssize_t i, n;
    char *buf;
    size_t len = 0;
    int status, rc;

    tlsr_probe_opts_init(&o);
    if (!PyArg_ParseTuple(args, "sizOpiiipOipz:probe", &host, &o.port, &sni,
                          &ips, &o.all_ips, &o.tries, &o.versions,
                          &o.mechanisms, &o.early_data, &request,
                          &o.timeout_ms, &o.insecure, &cafile))
        return NULL;
    if (!PyTuple_Check(ips))
        return PyErr_Format(PyExc_TypeError, "ips must be a tuple");
    n = PyTuple_GET_SIZE(ips);
    if (n > TLSR_PROBE_MAX_ADDRS)
        return raise_code(st, TLSR_EINVAL, "more than 16 addresses");
    for (i = 0; i < n; i++) {
        item = PyTuple_GET_ITEM(ips, i);
        if (!PyUnicode_Check(item))
            return PyErr_Format(PyExc_TypeError, "addresses must be str");
        if ((ipv[i] = PyUnicode_AsUTF8(item)) == NULL)
            return NULL;
    }
    o.host = host;
    o.sni = sni;
    o.ips = n > 0 ? ipv : NULL;
    o.n_ips = (size_t)n;
    o.cafile = cafile;
    if (request != Py_None) {
        if (!PyBytes_Check(request))
            return PyErr_Format(PyExc_TypeError, "request must be bytes");
        o.request = (const uint8_t *)PyBytes_AS_STRING(request);
        o.request_len = (size_t)PyBytes_GET_SIZE(request);
    }
    /* args keeps every string above alive while the GIL is released. */
    Py_BEGIN_ALLOW_THREADS
    pr = tlsr_probe_run(&o, &err);
    rc = pr != NULL ? tlsr_probe_json(pr, NULL, &len, &err) : -1;
    Py_END_ALLOW_THREADS
    if (pr == NULL) {
        if (PyErr_CheckSignals() < 0)
            return NULL;            /* Ctrl-C: KeyboardInterrupt */
        return raise_err(st, &err);
    }
    if (rc != 0 || (buf = PyMem_Malloc(len + 1)) == NULL) {
        tlsr_probe_free(pr);
        return rc != 0 ? raise_err(st, &err) : PyErr_NoMemory();
    }
    len += 1;
    if (tlsr_probe_json(pr, buf, &len, &err) == 0) {
        status = tlsr_probe_exit_status(pr);
        out = Py_BuildValue("(s#i)", buf, (Py_ssize_t)len, status);
    } else {
        raise_err(st, &err);
    }
    PyMem_Free(buf);
    tlsr_probe_free(pr);
    return out;
}
/* ---- end probe ----------------------------------------------------------- */

/* Ticket key rings (server side): their own file, same helpers. */
#include "_core_ring.c"

static PyMethodDef core_methods[] = {
    RING_CORE_METHODS
    {"dumps", core_dumps, METH_VARARGS, NULL},
    {"loads", core_loads, METH_VARARGS, NULL},
    {"inspect", core_inspect, METH_O, NULL},
    {"ticket", core_ticket, METH_O, NULL},
    {"error_name", core_error_name, METH_O, NULL},
    {"libssl_path", core_libssl_path, METH_NOARGS, NULL},
    {"versions", core_versions, METH_NOARGS, NULL},
    {"detach_context", core_detach_context, METH_O, NULL},
    {"flush_context", core_flush_context, METH_VARARGS, NULL},
    {"attach_connection", core_attach_connection, METH_VARARGS, NULL},
    {"keep_peer", core_keep_peer, METH_VARARGS, NULL},
    {"peer_decoded", core_peer_decoded, METH_O, NULL},
    {"peer_der", core_peer_der, METH_O, NULL},
    {"early_max", core_early_max, METH_VARARGS, NULL},
    {"write_early", core_write_early, METH_VARARGS, NULL},
    {"early_status", core_early_status, METH_O, NULL},
    {"entry_key", core_entry_key, METH_VARARGS, NULL},
    {"attach_offer", core_attach_offer, METH_VARARGS, NULL},
    {"probe", core_probe, METH_VARARGS, NULL},   /* issue 11 */
    {NULL, NULL, 0, NULL}
};

/* ---- module -------------------------------------------------------------- */

static PyTypeObject *ssl_type(PyObject *ssl_mod, const char *name)
{
    PyObject *t;

    if (PyErr_Occurred())       /* an earlier lookup failed */
        return NULL;
    t = PyObject_GetAttrString(ssl_mod, name);
    if (t != NULL && !PyType_Check(t)) {
        PyErr_Format(PyExc_ImportError, "_ssl.%s is not a type", name);
        Py_CLEAR(t);
    }
    return (PyTypeObject *)t;
}

/* A data descriptor of _ssl._SSLContext (a C getter), else ImportError. */
static PyObject *context_getter(PyTypeObject *tp, const char *name)
{
    PyObject *g;

    if (PyErr_Occurred())
        return NULL;
    g = PyObject_GetAttrString((PyObject *)tp, name);
    if (g != NULL && Py_TYPE(g)->tp_descr_get == NULL) {
        PyErr_Format(PyExc_ImportError, "_ssl._SSLContext.%s is not a getter",
                     name);
        Py_CLEAR(g);
    }
    return g;
}

static int core_exec(PyObject *m)
{
    core_state *st = get_state(m);
    PyObject *ssl_mod, *store_type, *dict;

    ssl_mod = PyImport_ImportModule("_ssl");
    if (ssl_mod == NULL)
        return -1;
    st->session_type = ssl_type(ssl_mod, "SSLSession");
    st->context_type = ssl_type(ssl_mod, "_SSLContext");
    st->socket_type = ssl_type(ssl_mod, "_SSLSocket");
    if (!st->session_type || !st->context_type || !st->socket_type) {
        Py_DECREF(ssl_mod);
        return -1;
    }
    st->protocol_getter = context_getter(st->context_type, "protocol");
    st->options_getter = context_getter(st->context_type, "options");
    st->hostname_getter = context_getter(st->context_type, "check_hostname");
    if (st->protocol_getter == NULL || st->options_getter == NULL
        || st->hostname_getter == NULL) {
        Py_DECREF(ssl_mod);
        return -1;
    }
    {
        PyObject *p = PyObject_GetAttrString(ssl_mod, "PROTOCOL_TLS_SERVER");
        st->server_protocol = p != NULL ? PyLong_AsLong(p) : -1;
        Py_XDECREF(p);
        if (PyErr_Occurred()) {
            Py_DECREF(ssl_mod);
            return -1;
        }
    }
    Py_DECREF(ssl_mod);

    dict = Py_BuildValue("{s:i,s:s}", "code", TLSR_EINVAL, "code_name",
                         "TLSR_EINVAL");
    if (dict == NULL)
        return -1;
    st->error = PyErr_NewExceptionWithDoc(
        "tlsresume.Error",
        "A tlsresume failure: .code is a negative TLSR_E* code, .code_name "
        "its name.", PyExc_ValueError, dict);
    Py_DECREF(dict);
    if (st->error == NULL)
        return -1;
    Py_INCREF(st->error);
    if (PyModule_AddObject(m, "Error", st->error) < 0) {
        Py_DECREF(st->error);
        return -1;
    }
    if (PyModule_AddFunctions(m, server_cache_functions) < 0)
        return -1;
    store_type = PyType_FromSpec(&store_spec);
    if (store_type == NULL)
        return -1;
    if (PyModule_AddObject(m, "Store", store_type) < 0) {
        Py_DECREF(store_type);
        return -1;
    }
    if ((store_type = PyType_FromSpec(&codec_spec)) == NULL)
        return -1;
    if (PyModule_AddObject(m, "Codec", store_type) < 0) {
        Py_DECREF(store_type);
        return -1;
    }
    if ((store_type = PyType_FromSpec(&capture_spec)) == NULL)
        return -1;
    if (PyModule_AddObject(m, "Capture", store_type) < 0) {
        Py_DECREF(store_type);
        return -1;
    }
    if (ring_exec(m) < 0)
        return -1;
#define ADD_INT(name) \
    if (PyModule_AddIntConstant(m, #name, name) < 0) return -1
    ADD_INT(TLSR_FORMAT_DER);
    ADD_INT(TLSR_FORMAT_PEM);
    ADD_INT(TLSR_MAX_INPUT);
    ADD_INT(TLSR_EINVAL);
    ADD_INT(TLSR_ENOTRESUMABLE);
    ADD_INT(TLSR_ENOTFOUND);
    ADD_INT(TLSR_ENTRY_T12);
    ADD_INT(TLSR_ENTRY_T13);
    ADD_INT(TLSR_ECONNECT);
#undef ADD_INT
    return 0;
}

static int core_traverse(PyObject *m, visitproc visit, void *arg)
{
    core_state *st = get_state(m);

    Py_VISIT(st->error);
    Py_VISIT(st->session_type);
    Py_VISIT(st->context_type);
    Py_VISIT(st->socket_type);
    Py_VISIT(st->protocol_getter);
    Py_VISIT(st->options_getter);
    Py_VISIT(st->hostname_getter);
    return 0;
}

static int core_clear(PyObject *m)
{
    core_state *st = get_state(m);

    Py_CLEAR(st->error);
    Py_CLEAR(st->session_type);
    Py_CLEAR(st->context_type);
    Py_CLEAR(st->socket_type);
    Py_CLEAR(st->protocol_getter);
    Py_CLEAR(st->hostname_getter);
    Py_CLEAR(st->options_getter);
    return 0;
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL}
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "tlsresume._core",
    "Thin binding of the tlsresume C core (use the tlsresume package).",
    sizeof(core_state), core_methods, core_slots, core_traverse, core_clear,
    NULL
};

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
