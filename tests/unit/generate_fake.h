/* generate_fake.h: starts and stops tests/fake_llm/fake_llm.py for the
 * generate unit tests (header-only; static functions). fake_start returns the
 * port, or 0 when python3 or the script is missing (the caller skips). */
#ifndef AV_TEST_GENERATE_FAKE_H
#define AV_TEST_GENERATE_FAKE_H
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t fake_pid;

static void fake_stop(void)
{
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
        fake_pid = 0;
    }
}

/* extra: NULL-terminated extra arguments for the server. */
static int fake_start(const char *dir, const char *const *extra)
{
    char script[1024], portfile[1024];
    const char *src = getenv("AVIARY_SRC");
    snprintf(script, sizeof script, "%s/tests/fake_llm/fake_llm.py", src && *src ? src : ".");
    snprintf(portfile, sizeof portfile, "%s/fake.port", dir);
    if (access(script, R_OK) != 0 || system("python3 -c 'import asyncio' 2>/dev/null") != 0) return 0;
    unlink(portfile);
    const char *argv[32] = {"python3", script, "--port-file", portfile};
    int n = 4;
    for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    fake_pid = fork();
    if (fake_pid == 0) {
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
            if (port) {
                atexit(fake_stop);
                return port;
            }
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fake_stop();
    return 0;
}
#endif
