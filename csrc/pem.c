/*
 * PEM armour for sessions: byte-identical to PEM_write_bio_SSL_SESSION
 * ("openssl sess_id -outform PEM": base64 in 64-character lines), and a
 * strict reader that reports what exactly is wrong with a block.
 */
#include <ctype.h>
#include <string.h>

#include "der.h"
#include "internal.h"

static const char pem_begin[] = "-----BEGIN ";
static const char pem_end[] = "-----END ";
static const char pem_dashes[] = "-----";
static const char pem_label[] = "SSL SESSION PARAMETERS";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define LIT_LEN(s) (sizeof(s) - 1)
/* "-----BEGIN SSL SESSION PARAMETERS-----\n" and the END line. */
#define BEGIN_LINE_LEN (LIT_LEN(pem_begin) + LIT_LEN(pem_label) + 6)
#define END_LINE_LEN (LIT_LEN(pem_end) + LIT_LEN(pem_label) + 6)

size_t tlsri_pem_size(size_t der_len)
{
    size_t b64 = 4 * ((der_len + 2) / 3);

    return BEGIN_LINE_LEN + b64 + (b64 + 63) / 64 + END_LINE_LEN;
}

static uint8_t *put_line(uint8_t *out, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, pem_dashes, 5);
    out[la + lb + 5] = '\n';
    return out + la + lb + 6;
}

void tlsri_pem_encode(const uint8_t *der, size_t der_len, uint8_t *out)
{
    size_t i, col = 0;

    out = put_line(out, pem_begin, pem_label);
    for (i = 0; i < der_len; i += 3) {
        size_t n = der_len - i < 3 ? der_len - i : 3;
        uint32_t v = (uint32_t)der[i] << 16;

        if (n > 1)
            v |= (uint32_t)der[i + 1] << 8;
        if (n > 2)
            v |= der[i + 2];
        out[0] = (uint8_t)b64_alphabet[(v >> 18) & 63];
        out[1] = (uint8_t)b64_alphabet[(v >> 12) & 63];
        out[2] = n > 1 ? (uint8_t)b64_alphabet[(v >> 6) & 63] : '=';
        out[3] = n > 2 ? (uint8_t)b64_alphabet[v & 63] : '=';
        out += 4;
        col += 4;
        if (col == 64) {
            *out++ = '\n';
            col = 0;
        }
    }
    if (col != 0)
        *out++ = '\n';
    put_line(out, pem_end, pem_label);
}

/* Start of the first line at or after p that begins with prefix. */
static const uint8_t *find_line(const uint8_t *p, const uint8_t *end,
                                const char *prefix, size_t plen)
{
    const uint8_t *line = p;

    while (line < end) {
        const uint8_t *nl;

        if ((size_t)(end - line) >= plen && memcmp(line, prefix, plen) == 0)
            return line;
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            return NULL;
        line = nl + 1;
    }
    return NULL;
}

/* Labels are not secret, but may be binary junk: print them safely. */
static void label_for_message(const uint8_t *s, size_t n, char *out,
                              size_t cap)
{
    size_t i;

    if (n > cap - 1)
        n = cap - 1;
    for (i = 0; i < n; i++)
        out[i] = isprint(s[i]) ? (char)s[i] : '?';
    out[n] = '\0';
}

/*
 * Parse "<prefix>LABEL-----" at line (prefix already matched).  Returns 0
 * with *next after the line, or a code: the line runs to the end of the
 * data without its closing dashes (ETRUNCATED), or is not a boundary line
 * for a session (EPEMLABEL).
 */
static int boundary_line(const uint8_t *line, const uint8_t *end,
                         size_t plen, const char *what,
                         const uint8_t **next, struct tlsr_error *err)
{
    const uint8_t *p = line + plen, *nl, *eol;
    char shown[64];

    nl = memchr(p, '\n', (size_t)(end - p));
    eol = nl != NULL ? nl : end;
    *next = nl != NULL ? nl + 1 : end;
    while (eol > p && (eol[-1] == '\r' || eol[-1] == ' ' || eol[-1] == '\t'))
        eol--;
    if ((size_t)(eol - p) < 5 || memcmp(eol - 5, pem_dashes, 5) != 0) {
        if (nl == NULL)
            return tlsri_error_set(err, TLSR_ETRUNCATED,
                                   "PEM %s line is cut off", what);
        return tlsri_error_set(err, TLSR_EPEMLABEL,
                               "malformed PEM %s line", what);
    }
    eol -= 5;
    if ((size_t)(eol - p) != LIT_LEN(pem_label)
        || memcmp(p, pem_label, LIT_LEN(pem_label)) != 0) {
        label_for_message(p, (size_t)(eol - p), shown, sizeof(shown));
        return tlsri_error_set(err, TLSR_EPEMLABEL,
                               "PEM %s label is \"%s\", expected \"%s\"",
                               what, shown, pem_label);
    }
    return 0;
}

int tlsri_pem_locate(const uint8_t *data, size_t len, const uint8_t **body,
                     size_t *body_len, struct tlsr_error *err)
{
    const uint8_t *end = data + len, *begin, *start, *endline, *after, *p;
    int rc;

    begin = find_line(data, end, pem_begin, LIT_LEN(pem_begin));
    if (begin == NULL)
        return 0;
    rc = boundary_line(begin, end, LIT_LEN(pem_begin), "BEGIN", &start, err);
    if (rc != 0)
        return rc;
    endline = find_line(start, end, pem_end, LIT_LEN(pem_end));
    if (endline == NULL)
        return tlsri_error_set(err, TLSR_ETRUNCATED,
                               "PEM block has no END line");
    rc = boundary_line(endline, end, LIT_LEN(pem_end), "END", &after, err);
    if (rc != 0)
        return rc;
    for (p = after; p < end; p++) {
        if (!isspace(*p))
            return tlsri_error_set(err, TLSR_ETRAILING,
                                   "%zu bytes after the PEM END line",
                                   (size_t)(end - p));
    }
    *body = start;
    *body_len = (size_t)(endline - start);
    return 1;
}

size_t tlsri_pem_decoded_max(size_t body_len)
{
    return body_len / 4 * 3 + 3;
}

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tlsri_pem_base64(const uint8_t *body, size_t body_len, uint8_t *out,
                     size_t *out_len, struct tlsr_error *err)
{
    size_t i, n = 0, quantum = 0, pad = 0;
    uint32_t v = 0;

    for (i = 0; i < body_len; i++) {
        uint8_t c = body[i];
        int d;

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            /* Padding only in the last two places of a quantum. */
            if (quantum < 2)
                return tlsri_error_set(err, TLSR_EBASE64,
                                       "misplaced '=' in PEM body");
            pad++;
            v <<= 6;
            quantum++;
        } else {
            d = b64_value(c);
            if (d < 0)
                return tlsri_error_set(err, TLSR_EBASE64,
                                       "invalid base64 character 0x%02x "
                                       "in PEM body", c);
            if (pad != 0)
                return tlsri_error_set(err, TLSR_EBASE64,
                                       "base64 data after '=' padding");
            v = (v << 6) | (uint32_t)d;
            quantum++;
        }
        if (quantum == 4) {
            out[n++] = (uint8_t)(v >> 16);
            if (pad < 2)
                out[n++] = (uint8_t)(v >> 8);
            if (pad < 1)
                out[n++] = (uint8_t)v;
            quantum = 0;
            v = 0;
            if (pad != 0)
                pad = 3; /* marks "done": any further data is an error */
        }
    }
    if (quantum != 0)
        return tlsri_error_set(err, TLSR_EBASE64,
                               "PEM body is not a whole number of base64 "
                               "quanta");
    if (n == 0)
        return tlsri_error_set(err, TLSR_EBASE64, "PEM body is empty");
    *out_len = n;
    return 0;
}
