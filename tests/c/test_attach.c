/*
 * Automatic persistence (csrc/attach.c): an attached client SSL_CTX saves
 * every new session through OpenSSL's new-session callback.  Real TLS 1.2 /
 * 1.3 handshakes in memory; LeakSanitizer (test-c) and valgrind
 * (test-valgrind) check the callback hands back the reference it gets.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static char tmpdir[64];

/* A store in a fresh temporary directory (removed by drop_store). */
static struct tlsr_store *new_store(void)
{
    struct tlsr_error err;
    char path[80];

    strcpy(tmpdir, "/tmp/tlsr-attach-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/s", tmpdir);
    return tlsr_store_open(path, NULL, &err);
}

static void drop_store(void)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int want_more(SSL *x, int rc)
{
    int e = SSL_get_error(x, rc);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/*
 * One connection over a BIO pair (no socket: only an explicit key saves),
 * keyed "localhost":443 if key is set; one byte of data brings the TLS 1.3
 * tickets.  Returns 1 and *reused, 0 on failure.
 */
static int connect_once(SSL_CTX *sctx, SSL_CTX *cctx, int key,
                        SSL_SESSION *resume, int *reused)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO *bc = NULL, *bs = NULL;
    struct tlsr_error err;
    int i, rc, done_c = 0, done_s = 0, ok = 0;
    char b = 'x';

    if (c == NULL || s == NULL || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
        goto end;
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (resume != NULL && SSL_set_session(c, resume) != 1)
        goto end;
    if (key && tlsr_attach_ssl(c, NULL, "localhost", 443, NULL, &err) != 0)
        goto end;
    for (i = 0; i < 100 && !(done_c && done_s); i++) {
        if (!done_c) {
            rc = SSL_do_handshake(c);
            if (rc == 1)
                done_c = 1;
            else if (!want_more(c, rc))
                goto end;
        }
        if (!done_s) {
            rc = SSL_do_handshake(s);
            if (rc == 1)
                done_s = 1;
            else if (!want_more(s, rc))
                goto end;
        }
    }
    if (!(done_c && done_s) || SSL_write(s, &b, 1) != 1
        || SSL_read(c, &b, 1) != 1)
        goto end;
    *reused = SSL_session_reused(c);
    SSL_shutdown(c);
    SSL_shutdown(s);
    ok = 1;
end:
    SSL_free(c);
    SSL_free(s);
    return ok;
}

static int count_locked(struct tlsr_attach *att)
{
    struct tlsr_error err;
    int n = tlsr_store_count(tlsr_attach_lock(att), &err);

    tlsr_attach_unlock(att);
    return n;
}

/* The callback returns 0 (OpenSSL keeps and frees its reference): a 1
 * would leak every session, which LeakSanitizer reports at exit. */
static void attached_ctx_saves_each_new_session_and_leaks_none(void)
{
    int versions[2] = { TLS1_2_VERSION, TLS1_3_VERSION }, v;

    for (v = 0; v < 2; v++) {
        SSL_CTX *sctx = tp_server_ctx(TP_EC, versions[v]);
        SSL_CTX *cctx = tp_client_ctx(versions[v]);
        struct tlsr_store *st = new_store();
        struct tlsr_attach *att = tlsr_attach_new(st, NULL);
        struct tlsr_error err;
        SSL_SESSION *taken;
        int reused = -1;

        CHECK(sctx != NULL && cctx != NULL && st != NULL && att != NULL);
        CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
        CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
        CHECK_EQ_INT(reused, 0);
        CHECK(ERR_peek_error() == 0);
        /* TLS 1.2: the session; TLS 1.3: OpenSSL's two tickets. */
        CHECK_EQ_INT(count_locked(att), v == 0 ? 1 : 2);
        taken = tlsr_store_take(tlsr_attach_lock(att), "localhost", 443,
                                NULL, NULL, NULL, &err);
        tlsr_attach_unlock(att);
        CHECK(taken != NULL);
        CHECK(connect_once(sctx, cctx, 1, taken, &reused));
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(taken);
        tlsr_attach_free(att);      /* the context keeps the store alive */
        CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
        SSL_CTX_free(cctx);         /* drops the last reference */
        SSL_CTX_free(sctx);
        drop_store();
    }
}

/* Without a key and without a socket to take one from: nothing saved. */
static void connection_without_key_is_never_saved_under_a_guess(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    struct tlsr_error err;
    int reused = -1;

    CHECK(sctx != NULL && cctx != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    CHECK(connect_once(sctx, cctx, 0, NULL, &reused));
    CHECK_EQ_INT(count_locked(att), 0);
    CHECK(ERR_peek_error() == 0);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

static int other_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    (void)sess;
    return 0;
}

static void attach_refuses_foreign_callback_and_detaches(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_2_VERSION);
    SSL_CTX *foreign = tp_client_ctx(TLS1_2_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    struct tlsr_error err;
    int reused = -1;

    CHECK(sctx != NULL && cctx != NULL && foreign != NULL && att != NULL);
    SSL_CTX_sess_set_new_cb(foreign, other_cb);
    CHECK_CODE(tlsr_attach_ctx(att, foreign, &err), TLSR_EINVAL, &err);
    CHECK(SSL_CTX_sess_get_new_cb(foreign) == other_cb);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);   /* again: ok */
    CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), 0, &err);  /* detach */
    CHECK(SSL_CTX_sess_get_new_cb(cctx) == NULL);
    CHECK(connect_once(sctx, cctx, 0, NULL, &reused));
    CHECK_EQ_INT(count_locked(att), 0);
    tlsr_attach_free(att);      /* last reference: the store goes */
    SSL_CTX_free(foreign);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

static void attach_ssl_rejects_misuse(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    SSL *c = cctx != NULL ? SSL_new(cctx) : NULL;
    SSL *s = sctx != NULL ? SSL_new(sctx) : NULL;
    struct tlsr_error err;
    char longname[300];
    int tag;

    CHECK(c != NULL && s != NULL && att != NULL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(tlsr_attach_new(NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_CODE(tlsr_attach_ctx(att, NULL, &err), TLSR_EINVAL, &err);
    /* Not attached yet: no key to set. */
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 443, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h2", 443, "ctx", &err), 0, &err);
    CHECK_CODE(tlsr_attach_ssl(NULL, NULL, "h", 443, NULL, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, longname, 443, NULL, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 443, longname, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 65536, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ssl(c, &tag, "h", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ssl(s, NULL, "h", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK(ERR_peek_error() == 0);
    SSL_free(c);                /* frees the key it holds */
    SSL_free(s);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

/*
 * A keyed connection holds a reference to its attach: detaching the context
 * and dropping the binding's reference while the connection lives (Python
 * reads without the GIL) frees the store only with the connection.
 */
static void keyed_connection_keeps_store_alive_across_detach(void)
{
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_store *st = new_store();
    struct tlsr_attach *att = tlsr_attach_new(st, NULL);
    struct tlsr_error err;
    SSL *c;

    CHECK(cctx != NULL && st != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    c = SSL_new(cctx);
    CHECK(c != NULL);
    SSL_set_connect_state(c);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "localhost", 443, NULL, &err), 0,
               &err);
    CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), 0, &err);
    tlsr_attach_free(att);
    /* Only the connection's reference is left: the store is still usable. */
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    SSL_free(c);                /* the last reference: LSan sees no leak */
    SSL_CTX_free(cctx);
    drop_store();
}

TESTS(T(attached_ctx_saves_each_new_session_and_leaks_none),
      T(connection_without_key_is_never_saved_under_a_guess),
      T(attach_refuses_foreign_callback_and_detaches),
      T(attach_ssl_rejects_misuse),
      T(keyed_connection_keeps_store_alive_across_detach))
