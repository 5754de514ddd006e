/* Private helpers shared by the core's source files.  Not installed. */
#ifndef TLSR_INTERNAL_H
#define TLSR_INTERNAL_H

#include <time.h>

#include "tlsresume.h"

/* Public entry points are the only exported symbols (see tlsresume.map). */
#define TLSR_EXPORT __attribute__((visibility("default")))

/* Internal names start with tlsri_ so the version script never exports them. */

/* Set err (if not NULL) to code and a formatted message; returns code. */
int tlsri_error_set(struct tlsr_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Drain OpenSSL's error queue of this thread.  The most specific OpenSSL
 * reason (the deepest one, first raised) is appended to the message after
 * "what".  Returns code.  The queue is always left empty.
 */
int tlsri_error_ssl(struct tlsr_error *err, int code, const char *what);

/* write(2) all of p, retrying on EINTR and short writes: 0, or -1 (errno
 * set).  csrc/file_write.c. */
int tlsri_write_all(int fd, const uint8_t *p, size_t n);

/* Milliseconds on the monotonic clock: deadlines (probe, Redis). */
static inline int64_t tlsri_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Clear err to TLSR_OK. */
void tlsri_error_clear(struct tlsr_error *err);

/*
 * Open a directory that holds secrets (csrc/dir_safe.c): refused unless this
 * user owns it and neither group nor others can write it; a symlink only if
 * this user or root made it.  create: mkdir -p (0700) first.  what names it
 * in messages ("store", "ring").  Returns an O_DIRECTORY fd, or -1 and err.
 */
int tlsri_dir_open_safe(const char *path, const char *what, int create,
                        struct tlsr_error *err);

#endif
