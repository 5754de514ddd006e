/*
 * tlsresume._core, ticket key rings (included by _core.c, which holds the
 * helpers used here): the Ring type over struct tlsr_ring, and attaching a
 * ring to a server ssl.SSLContext's SSL_CTX.  Conveniences live in
 * python/tlsresume/_ring.py and server.py.
 */

typedef struct {
    PyObject_HEAD
    struct tlsr_ring *ring;
    PyObject *module;
} RingObject;

/*
 * A reload or rotation failed while serving (called from a handshake,
 * which released the GIL): warn, never fail the handshake.
 */
static void ring_warn(void *arg, int code, const char *msg)
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
    PyErr_Fetch(&et, &ev, &tb);     /* e.g. a handshake during an unwind */
    if (PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "tlsresume ticket key "
                         "ring: %s (serving with the last good keys)",
                         msg) < 0)
        PyErr_WriteUnraisable(NULL);
    PyErr_Restore(et, ev, tb);
    PyGILState_Release(g);
}

static int ring_init(RingObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    core_state *st = get_state(self->module);
    struct tlsr_error err;
    struct tlsr_ring *ring;
    PyObject *path = NULL;

    if (self->ring != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ring already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&:Ring", kwlist,
                                     PyUnicode_FSConverter, &path))
        return -1;
    Py_BEGIN_ALLOW_THREADS
    ring = tlsr_ring_open(PyBytes_AS_STRING(path), &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (ring == NULL) {
        raise_err(st, &err);
        return -1;
    }
    tlsr_ring_set_warn(ring, ring_warn, NULL, &err);
    self->ring = ring;
    return 0;
}

static PyObject *ring_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    RingObject *self = (RingObject *)tp->tp_alloc(tp, 0);

    if (self == NULL)
        return NULL;
    self->module = PyImport_ImportModule("tlsresume._core");
    if (self->module == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void ring_dealloc(RingObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    tlsr_ring_free(self->ring);     /* contexts keep their own reference */
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static struct tlsr_ring *ring_ok(RingObject *self)
{
    if (self->ring == NULL)
        PyErr_SetString(PyExc_ValueError, "ring is not open");
    return self->ring;
}

/* keys(now=0): [(name, role, start, end, expires)], oldest first. */
static PyObject *ring_keys(RingObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_ring_key k;
    struct tlsr_error err;
    long long now = 0;
    PyObject *list, *item;
    size_t i;
    int rc;

    if (!PyArg_ParseTuple(args, "|L:keys", &now) || ring_ok(self) == NULL)
        return NULL;
    if ((list = PyList_New(0)) == NULL)
        return NULL;
    for (i = 0; (rc = tlsr_ring_key_get(self->ring, i, now, &k, &err)) == 1;
         i++) {
        item = Py_BuildValue("(y#iLLL)", k.name, (Py_ssize_t)16, k.role,
                             (long long)k.start, (long long)k.end,
                             (long long)k.expires);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    if (rc < 0) {
        Py_DECREF(list);
        return raise_err(st, &err);
    }
    return list;
}

static PyObject *ring_options(RingObject *self, PyObject *unused)
{
    struct tlsr_ring_options o;
    struct tlsr_error err;

    if (ring_ok(self) == NULL)
        return NULL;
    if (tlsr_ring_get_options(self->ring, &o, &err) != 0)
        return raise_err(get_state(self->module), &err);
    return Py_BuildValue("(LLi)", (long long)o.period, (long long)o.keep,
                         o.format);
}

/* rotate(force=False, now=0) -> bool changed */
static PyObject *ring_rotate(RingObject *self, PyObject *args)
{
    struct tlsr_error err;
    long long now = 0;
    int force = 0, rc;

    if (!PyArg_ParseTuple(args, "|pL:rotate", &force, &now)
        || ring_ok(self) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_ring_rotate(self->ring, now, force, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_err(get_state(self->module), &err);
    return PyBool_FromLong(rc);
}

static PyObject *ring_reload(RingObject *self, PyObject *unused)
{
    struct tlsr_error err;
    int rc;

    if (ring_ok(self) == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_ring_reload(self->ring, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return raise_err(get_state(self->module), &err);
    Py_RETURN_NONE;
}

/* export(format, dir, now=0) -> number of keys written */
static PyObject *ring_export(RingObject *self, PyObject *args)
{
    struct tlsr_error err;
    PyObject *dir = NULL;
    long long now = 0;
    int format, rc;

    if (!PyArg_ParseTuple(args, "iO&|L:export", &format,
                          PyUnicode_FSConverter, &dir, &now))
        return NULL;
    if (ring_ok(self) == NULL) {
        Py_DECREF(dir);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_ring_export(self->ring, format, PyBytes_AS_STRING(dir), now,
                          &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(dir);
    if (rc < 0)
        return raise_err(get_state(self->module), &err);
    return PyLong_FromLong(rc);
}

/* status(clear=False) -> dict of counters and the last failure */
static PyObject *ring_status(RingObject *self, PyObject *args)
{
    struct tlsr_ring_status s;
    struct tlsr_error err;
    int clear = 0;

    if (!PyArg_ParseTuple(args, "|p:status", &clear) || ring_ok(self) == NULL)
        return NULL;
    if (tlsr_ring_status(self->ring, &s, clear, &err) != 0)
        return raise_err(get_state(self->module), &err);
    return Py_BuildValue("{s:K,s:K,s:i,s:N,s:K,s:K,s:K,s:K}",
                         "reloads", (unsigned long long)s.reloads,
                         "failures", (unsigned long long)s.failures,
                         "last_code", s.last_code,
                         "last_error", text(s.last_msg),
                         "encrypted", (unsigned long long)s.encrypted,
                         "decrypted", (unsigned long long)s.decrypted,
                         "renewed", (unsigned long long)s.renewed,
                         "unknown", (unsigned long long)s.unknown);
}

/* decrypt(ticket, now=0) -> info dict of the server-side session */
static PyObject *ring_decrypt(RingObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_session_info info;
    struct tlsr_ticket_keys *keys;
    struct tlsr_error err;
    SSL_SESSION *sess;
    Py_buffer t;
    long long now = 0;

    if (!PyArg_ParseTuple(args, "y*|L:decrypt", &t, &now))
        return NULL;
    if (ring_ok(self) == NULL) {
        PyBuffer_Release(&t);
        return NULL;
    }
    keys = tlsr_ring_ticket_keys(self->ring, now, &err);
    sess = keys == NULL ? NULL
         : tlsr_ticket_decrypt(keys, t.buf, (size_t)t.len, &err);
    tlsr_ticket_keys_free(keys);
    PyBuffer_Release(&t);
    if (sess == NULL)
        return raise_err(st, &err);
    if (tlsr_session_inspect(sess, 0, &info, &err) != 0) {
        tlsr_session_free(sess);
        return raise_err(st, &err);
    }
    tlsr_session_free(sess);
    return info_dict(&info);
}

/* 1 if protocol p is ssl.PROTOCOL_TLS_CLIENT (or unknown: refuse). */
static int client_only(long p)
{
    PyObject *mod = PyImport_ImportModule("_ssl"), *v;
    long client = -1;

    v = mod != NULL ? PyObject_GetAttrString(mod, "PROTOCOL_TLS_CLIENT")
                    : NULL;
    if (v != NULL)
        client = PyLong_AsLong(v);
    Py_XDECREF(v);
    Py_XDECREF(mod);
    PyErr_Clear();
    return client == -1 || p == client;
}

/* attach(ctx, session_id_context=None, auto_rotate=True) */
static PyObject *ring_attach(RingObject *self, PyObject *args)
{
    core_state *st = get_state(self->module);
    struct tlsr_ring_attach_options o = {0};
    struct tlsr_error err;
    PyObject *ctx;
    Py_buffer sid = {0};
    int auto_rotate = 1;
    SSL_CTX *sctx;
    long p;

    if (!PyArg_ParseTuple(args, "O|z*p:attach", &ctx, &sid, &auto_rotate))
        return NULL;
    if (ring_ok(self) == NULL || check_context(st, ctx) < 0)
        goto fail;
    if ((p = context_protocol(st, ctx)) == -1 && PyErr_Occurred())
        goto fail;
    /* Server contexts, and generic ones (PROTOCOL_TLS: what
     * create_default_context(Purpose.CLIENT_AUTH) makes on CPython < 3.10,
     * servers included); never client-only ones. */
    if (p != st->server_protocol && client_only(p)) {
        raise_code(st, TLSR_EINVAL, "ticket keys are for server contexts "
                   "(ssl.PROTOCOL_TLS_SERVER, ssl.create_default_context("
                   "ssl.Purpose.CLIENT_AUTH))");
        goto fail;
    }
    if ((sctx = context_ptr(st, ctx)) == NULL)
        goto fail;
    if (sid.buf != NULL) {
        o.session_id_context = sid.buf;
        o.session_id_context_len = (size_t)sid.len;
    }
    o.flags = auto_rotate ? 0 : TLSR_RING_NO_AUTO_ROTATE;
    if (tlsr_ring_attach_ctx(self->ring, sctx, &o, &err) != 0) {
        raise_err(st, &err);
        goto fail;
    }
    if (sid.buf != NULL)
        PyBuffer_Release(&sid);
    Py_RETURN_NONE;
fail:
    if (sid.buf != NULL)
        PyBuffer_Release(&sid);
    return NULL;
}

/* ring_init(path, period, keep, format) */
static PyObject *core_ring_init(PyObject *m, PyObject *args)
{
    struct tlsr_ring_options o;
    struct tlsr_error err;
    PyObject *path = NULL;
    long long period, keep;
    int format, rc;

    if (!PyArg_ParseTuple(args, "O&LLi:ring_init", PyUnicode_FSConverter,
                          &path, &period, &keep, &format))
        return NULL;
    tlsr_ring_options_init(&o);
    o.period = period;
    o.keep = keep;
    o.format = format;
    if (period <= 0 || keep <= 0) {
        Py_DECREF(path);
        return raise_code(get_state(m), TLSR_EINVAL,
                          "period and keep must be positive");
    }
    Py_BEGIN_ALLOW_THREADS
    rc = tlsr_ring_init(PyBytes_AS_STRING(path), &o, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (rc != 0)
        return raise_err(get_state(m), &err);
    Py_RETURN_NONE;
}

static PyMethodDef ring_methods[] = {
    {"keys", (PyCFunction)ring_keys, METH_VARARGS, NULL},
    {"options", (PyCFunction)ring_options, METH_NOARGS, NULL},
    {"rotate", (PyCFunction)ring_rotate, METH_VARARGS, NULL},
    {"reload", (PyCFunction)ring_reload, METH_NOARGS, NULL},
    {"export", (PyCFunction)ring_export, METH_VARARGS, NULL},
    {"status", (PyCFunction)ring_status, METH_VARARGS, NULL},
    {"decrypt", (PyCFunction)ring_decrypt, METH_VARARGS, NULL},
    {"attach", (PyCFunction)ring_attach, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};

static PyType_Slot ring_slots[] = {
    {Py_tp_new, ring_new},
    {Py_tp_init, ring_init},
    {Py_tp_dealloc, ring_dealloc},
    {Py_tp_methods, ring_methods},
    {Py_tp_doc, "Ring(path): the C ticket key ring (see TicketKeyRing)."},
    {0, NULL}
};

static PyType_Spec ring_spec = {
    "tlsresume._core.Ring", sizeof(RingObject), 0,
    Py_TPFLAGS_DEFAULT, ring_slots
};

#define RING_CORE_METHODS \
    {"ring_init", core_ring_init, METH_VARARGS, NULL},

/* Called from core_exec: adds Ring and the ring constants. */
static int ring_exec(PyObject *m)
{
    PyObject *t = PyType_FromSpec(&ring_spec);

    if (t == NULL)
        return -1;
    if (PyModule_AddObject(m, "Ring", t) < 0) {
        Py_DECREF(t);
        return -1;
    }
#define ADD_INT(name) \
    if (PyModule_AddIntConstant(m, #name, name) < 0) return -1
    ADD_INT(TLSR_KEYS_OPENSSL80);
    ADD_INT(TLSR_KEYS_NGINX48);
    ADD_INT(TLSR_KEYS_NODE48);
    ADD_INT(TLSR_EXPORT_NGINX80);
    ADD_INT(TLSR_EXPORT_NGINX48);
    ADD_INT(TLSR_EXPORT_HAPROXY);
    ADD_INT(TLSR_EXPORT_NODE48);
    ADD_INT(TLSR_RING_ENCRYPT);
    ADD_INT(TLSR_RING_NEXT);
    ADD_INT(TLSR_RING_DECRYPT);
    ADD_INT(TLSR_RING_EXPIRED);
    ADD_INT(TLSR_RING_MAX_LIFE);
#undef ADD_INT
    return 0;
}
