/* tap.c: the unit-test harness behind tap.h. */
#include "tap.h"
#include <stdlib.h>
#include <unistd.h>

int tap_failed_checks, tap_passed, tap_failed;
static char tmpl[256];

static void cleanup(void)
{
    if (tmpl[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0) fprintf(stderr, "tap: could not remove %s\n", tmpl);
    }
}

const char *tap_tmpdir(void)
{
    static int n;
    static char dir[300];
    if (!tmpl[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/avtest.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpl)) { perror("mkdtemp"); exit(1); }
        atexit(cleanup);
    }
    snprintf(dir, sizeof dir, "%s/%d", tmpl, ++n);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) exit(1);
    return dir;
}

void tap_run(const char *name, void (*fn)(void))
{
    int before = tap_failed_checks;
    fn();
    if (tap_failed_checks == before) { tap_passed++; printf("ok %s\n", name); }
    else { tap_failed++; printf("FAIL %s\n", name); }
}

int tap_done(void)
{
    printf("%d passed, %d failed\n", tap_passed, tap_failed);
    return tap_failed ? 1 : 0;
}
