/* The core links, reports its versions and names its error codes. */
#include <limits.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static void version_matches_linked_openssl(void)
{
    char path[512];
    size_t len = sizeof(path);
    struct tlsr_error err;

    CHECK(strcmp(tlsr_version(), "0.1.0") == 0);
    CHECK(tlsr_openssl_version_num() == OpenSSL_version_num());
    CHECK_CODE(tlsr_libssl_path(path, &len, &err), TLSR_OK, &err);
    CHECK(strstr(path, "libssl") != NULL);
}

static void error_names_cover_codes(void)
{
    CHECK(strcmp(tlsr_error_name(TLSR_EMAC), "TLSR_EMAC") == 0);
    CHECK(strcmp(tlsr_error_name(TLSR_ESSL), "TLSR_ESSL") == 0);
    CHECK(strcmp(tlsr_error_name(-1000), "TLSR_E?") == 0);
}

/* -INT_MIN overflows: the range check must not negate the code. */
static void error_name_of_int_min_is_unknown(void)
{
    CHECK(strcmp(tlsr_error_name(INT_MIN), "TLSR_E?") == 0);
    CHECK(strcmp(tlsr_error_name(INT_MIN + 1), "TLSR_E?") == 0);
    CHECK(strcmp(tlsr_error_name(1), "TLSR_E?") == 0);
    /* One past the last code is unknown (the list grows: no literal). */
    CHECK(strcmp(tlsr_error_name(TLSR_ECONNECT - 1), "TLSR_E?") == 0);
    CHECK(strcmp(tlsr_error_name(TLSR_ECONNECT), "TLSR_ECONNECT") == 0);
    CHECK(strcmp(tlsr_error_name(-23), "TLSR_ESSL") == 0);
}

static void in_memory_handshake_resumes(void)
{
    SSL_CTX *s = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *c = tp_client_ctx(TLS1_3_VERSION);
    SSL_SESSION *first, *second = NULL;
    int reused = -1;

    CHECK(s != NULL && c != NULL);
    first = tp_connect(s, c, NULL, &reused);
    CHECK(first != NULL);
    CHECK_EQ_INT(reused, 0);
    second = tp_connect(s, c, first, &reused);
    CHECK_EQ_INT(reused, 1);
    SSL_SESSION_free(first);
    SSL_SESSION_free(second);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

TESTS(T(version_matches_linked_openssl), T(error_names_cover_codes),
      T(error_name_of_int_min_is_unknown),
      T(in_memory_handshake_resumes))
