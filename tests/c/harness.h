/*
 * A very small test harness for the C suite.  Each test_*.c file defines
 * TESTS(...) and gets a main() that runs them and ends with the plain
 * closing line "N passed, N failed".
 */
#ifndef TLSR_TEST_HARNESS_H
#define TLSR_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__,       \
                    __LINE__, #cond);                                      \
            harness_failures++;                                            \
            return;                                                        \
        }                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                 \
    do {                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);              \
        if (va_ != vb_) {                                                  \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",  \
                    __FILE__, __LINE__, #a, va_, #b, vb_);                 \
            harness_failures++;                                            \
            return;                                                        \
        }                                                                  \
    } while (0)

/* Check a tlsr call's code and, on mismatch, print the error message. */
#define CHECK_CODE(call, expected, errp)                                   \
    do {                                                                   \
        int rc_ = (call);                                                  \
        if (rc_ != (expected)) {                                           \
            fprintf(stderr, "  %s:%d: %s returned %d (%s), expected %d\n", \
                    __FILE__, __LINE__, #call, rc_, (errp)->msg,           \
                    (int)(expected));                                      \
            harness_failures++;                                            \
            return;                                                        \
        }                                                                  \
    } while (0)

struct harness_test {
    const char *name;
    void (*fn)(void);
};

static int harness_run(const struct harness_test *tests, size_t n,
                       int argc, char **argv)
{
    size_t i;
    int passed = 0, failed = 0;

    for (i = 0; i < n; i++) {
        int before = harness_failures;

        if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL)
            continue;
        tests[i].fn();
        if (harness_failures != before) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#define T(fn) { #fn, fn }
#define TESTS(...)                                                         \
    int main(int argc, char **argv)                                        \
    {                                                                      \
        static const struct harness_test tests_[] = { __VA_ARGS__ };       \
        return harness_run(tests_, sizeof(tests_) / sizeof(tests_[0]),     \
                           argc, argv);                                    \
    }

#endif
