/* bench-sim.c: a scenario through the real `peko sim`, whole processes.
 *
 * Runs `PEKO sim SCENARIO [ARG...]` several times (3, or PEKO_BENCH_REPS;
 * a --large run once by default) as a user would: the command's own scenario loading, the simulator, the
 * SQLite recorder on (a temporary database, as without --db) and the
 * report read back from it. Each run is its own process, so its peak RSS
 * and CPU time are its own (wait4()). The run's figures are read from the
 * head of the report `peko sim` prints (cli/cmd-sim.c):
 *
 *   NAME: N nodes, seed S, run R (complete)
 *     simulated T s in W s wall: ...
 *     events E, deliveries D, trace H, peak memory M MiB
 *
 * and printed as BENCH lines (bench.h), medians over the runs:
 *   run_wall_s            the event loop's wall time (W)
 *   events_per_s, deliveries_per_s, realtime_factor   over W
 *   user_cpu_s            the whole process's user CPU time
 *   deliveries_per_cpu_s  D over the whole process's user + system time:
 *                         on a loaded machine, steadier than wall time
 *   peak_rss_mib          the whole process's peak resident set
 *   bytes_per_entry       peak RSS over N·(N−1) membership entries
 *   deliveries            the count (better=none): the same work
 * Every run must complete with the same trace and the same counts (the
 * simulator is deterministic): otherwise exit 1.
 *
 * Usage: bench-sim [--large] NAME PEKO SCENARIO [ARG...]
 *   NAME      the BENCH lines' name (e.g. bench-1000)
 *   PEKO      the peko program; SCENARIO and ARGs go to `peko sim`
 *   --large   skip (exit 77) unless PEKO_BENCH_LARGE=1
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_REPS 3
#define MAX_REPS 100

typedef struct run_figures {
    guint64 nodes;
    double sim_s;
    double run_wall_s;
    guint64 events;
    guint64 deliveries;
    char trace[17];
    double process_wall_s;
    double user_cpu_s;
    double cpu_s; /* user + system */
    double peak_rss_mib;
} run_figures;

/* Reads the head of peko sim's report into f; FALSE with a message when a
 * line is missing. */
static gboolean parse_report(const char *out, run_figures *f)
{
    static const char *const patterns[] = {
        ": ([0-9]+) nodes, seed [0-9]+, run [0-9]+ \\(([a-z]+)\\)$",
        "^  simulated ([0-9.]+) s in ([0-9.]+) s wall:",
        "^  events ([0-9]+), deliveries ([0-9]+), trace ([0-9a-f]{16}),",
    };
    GMatchInfo *m[G_N_ELEMENTS(patterns)] = {NULL};
    gboolean ok = TRUE;
    for (size_t i = 0; i < G_N_ELEMENTS(patterns) && ok; i++) {
        GRegex *re = g_regex_new(patterns[i], G_REGEX_MULTILINE, 0, NULL);
        g_assert(re != NULL);
        if (!g_regex_match(re, out, 0, &m[i])) {
            fprintf(stderr, "bench-sim: no line matching /%s/ in peko's "
                            "output\n", patterns[i]);
            ok = FALSE;
        }
        g_regex_unref(re);
    }
    if (ok) {
        char *status = g_match_info_fetch(m[0], 2);
        if (strcmp(status, "complete") != 0) {
            fprintf(stderr, "bench-sim: the run is %s, not complete\n",
                    status);
            ok = FALSE;
        }
        g_free(status);
    }
    if (ok) {
        char *s[6] = {
            g_match_info_fetch(m[0], 1), g_match_info_fetch(m[1], 1),
            g_match_info_fetch(m[1], 2), g_match_info_fetch(m[2], 1),
            g_match_info_fetch(m[2], 2), g_match_info_fetch(m[2], 3),
        };
        f->nodes = g_ascii_strtoull(s[0], NULL, 10);
        f->sim_s = g_ascii_strtod(s[1], NULL);
        f->run_wall_s = g_ascii_strtod(s[2], NULL);
        f->events = g_ascii_strtoull(s[3], NULL, 10);
        f->deliveries = g_ascii_strtoull(s[4], NULL, 10);
        g_strlcpy(f->trace, s[5], sizeof f->trace);
        for (size_t i = 0; i < G_N_ELEMENTS(s); i++)
            g_free(s[i]);
        /* peko prints the wall time to the millisecond: a shorter run
         * says nothing about speed. */
        if (f->run_wall_s <= 0 || f->nodes < 2) {
            fprintf(stderr, "bench-sim: the run is too small to time "
                            "(%.3f s wall, %" G_GUINT64_FORMAT " nodes)\n",
                    f->run_wall_s, f->nodes);
            ok = FALSE;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(m); i++)
        g_clear_pointer(&m[i], g_match_info_free);
    return ok;
}

/* Runs argv once; fills the process figures and parses the report. */
static gboolean run_once(char **argv, run_figures *f)
{
    GPid pid;
    int out_fd;
    GError *error = NULL;
    int64_t start_us = g_get_monotonic_time();
    if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, &pid, NULL, &out_fd, NULL,
                                  &error)) {
        fprintf(stderr, "bench-sim: %s\n", error->message);
        g_error_free(error);
        return FALSE;
    }
    GString *out = g_string_new(NULL);
    char buf[4096];
    for (;;) {
        ssize_t n = read(out_fd, buf, sizeof buf);
        if (n > 0)
            g_string_append_len(out, buf, n);
        else if (n == 0 || errno != EINTR)
            break;
    }
    close(out_fd);
    int status;
    struct rusage ru;
    pid_t got;
    do
        got = wait4(pid, &status, 0, &ru);
    while (got < 0 && errno == EINTR);
    f->process_wall_s = (double)(g_get_monotonic_time() - start_us) / 1e6;
    g_spawn_close_pid(pid);

    gboolean ok = got == pid && WIFEXITED(status) &&
                  WEXITSTATUS(status) == 0;
    if (!ok) {
        fprintf(stderr, "bench-sim: %s failed (%s %d); its output:\n%s",
                argv[0], WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                out->str);
    } else {
        ok = parse_report(out->str, f);
    }
    f->user_cpu_s =
        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    f->cpu_s = f->user_cpu_s + (double)ru.ru_stime.tv_sec +
               (double)ru.ru_stime.tv_usec / 1e6;
    f->peak_rss_mib = (double)ru.ru_maxrss / 1024.0;
    g_string_free(out, TRUE);
    return ok;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-sim [--large] NAME PEKO SCENARIO "
                    "[ARG...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int a = 1;
    gboolean large = argc > a && strcmp(argv[a], "--large") == 0;
    if (large)
        a++;
    if (argc - a < 3)
        return usage();
    const char *name = argv[a];
    if (large && !bench_large()) {
        printf("%s: skipped, needs PEKO_BENCH_LARGE=1 (several GiB of "
               "memory)\n", name);
        return 77;
    }
    /* A large run is long, and its figure is memory: once by default. */
    int reps = bench_reps(large ? 1 : DEFAULT_REPS);

    /* PEKO sim SCENARIO ARG... */
    int n_child = argc - a - 1 + 1;
    char **child = g_new0(char *, n_child + 1);
    child[0] = argv[a + 1];
    child[1] = (char *)"sim";
    for (int i = a + 2; i < argc; i++)
        child[i - a] = argv[i];

    run_figures runs[MAX_REPS];
    double wall[MAX_REPS], ev_rate[MAX_REPS], del_rate[MAX_REPS],
        rt[MAX_REPS], user[MAX_REPS], del_cpu[MAX_REPS], rss[MAX_REPS];
    printf("%s: peko sim %s, %d whole-process runs\n", name, argv[a + 2],
           reps);
    fflush(stdout);
    for (int r = 0; r < reps; r++) {
        run_figures *f = &runs[r];
        memset(f, 0, sizeof *f);
        if (!run_once(child, f)) {
            g_free(child);
            return 1;
        }
        if (r > 0 && (strcmp(f->trace, runs[0].trace) != 0 ||
                      f->events != runs[0].events ||
                      f->deliveries != runs[0].deliveries)) {
            fprintf(stderr, "bench-sim: run %d differs from run 1 (trace "
                            "%s, not %s): the simulator is not "
                            "deterministic\n", r + 1, f->trace,
                    runs[0].trace);
            g_free(child);
            return 1;
        }
        wall[r] = f->run_wall_s;
        ev_rate[r] = (double)f->events / f->run_wall_s;
        del_rate[r] = (double)f->deliveries / f->run_wall_s;
        rt[r] = f->sim_s / f->run_wall_s;
        user[r] = f->user_cpu_s;
        del_cpu[r] = (double)f->deliveries / MAX(f->cpu_s, 1e-3);
        rss[r] = f->peak_rss_mib;
        printf("  run %d: %.3f s loop wall (%.3f s process), %.3f s user "
               "CPU, %.2fM deliveries/s, %.1fx real time, peak RSS %.0f "
               "MiB, trace %s\n",
               r + 1, f->run_wall_s, f->process_wall_s, f->user_cpu_s,
               del_rate[r] / 1e6, rt[r], f->peak_rss_mib, f->trace);
        fflush(stdout);
    }
    g_free(child);

    double entries = (double)runs[0].nodes * (double)(runs[0].nodes - 1);
    double rss_median = bench_median(rss, (size_t)reps);
    bench_figure(name, "run_wall_s", bench_median(wall, (size_t)reps), "s",
                 BENCH_LOWER, reps);
    bench_figure(name, "events_per_s", bench_median(ev_rate, (size_t)reps),
                 "1/s", BENCH_HIGHER, reps);
    bench_figure(name, "deliveries_per_s",
                 bench_median(del_rate, (size_t)reps), "1/s", BENCH_HIGHER,
                 reps);
    bench_figure(name, "realtime_factor", bench_median(rt, (size_t)reps),
                 "x", BENCH_HIGHER, reps);
    bench_figure(name, "user_cpu_s", bench_median(user, (size_t)reps), "s",
                 BENCH_LOWER, reps);
    bench_figure(name, "deliveries_per_cpu_s",
                 bench_median(del_cpu, (size_t)reps), "1/s", BENCH_HIGHER,
                 reps);
    bench_figure(name, "peak_rss_mib", rss_median, "MiB", BENCH_LOWER, reps);
    bench_figure(name, "bytes_per_entry",
                 rss_median * 1024.0 * 1024.0 / entries, "B", BENCH_LOWER,
                 reps);
    bench_figure(name, "deliveries", (double)runs[0].deliveries, "count",
                 BENCH_NONE, reps);
    return 0;
}
