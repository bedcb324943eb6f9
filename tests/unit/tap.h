/* tap.h: the tiny unit-test harness. Each test file defines test functions
 * named test_<module>__<case> and lists them in main() with RUN(); CHECK()
 * records a failure with file:line and goes on. The closing line is
 * "N passed, N failed" (ctest reads the exit code). */
#ifndef AV_TAP_H
#define AV_TAP_H
#include <stdio.h>
#include <string.h>

extern int tap_failed_checks;
extern int tap_passed, tap_failed;
void tap_run(const char *name, void (*fn)(void));
int tap_done(void);
/* A fresh empty directory under $TMPDIR, removed at exit; never NULL. */
const char *tap_tmpdir(void);

#define RUN(fn) tap_run(#fn, fn)
#define CHECK(cond) do { if (!(cond)) { tap_failed_checks++; \
  fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { \
  tap_failed_checks++; fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *a_ = (a), *b_ = (b); if (!a_ || !b_ || strcmp(a_, b_)) { \
  tap_failed_checks++; fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)
#endif
