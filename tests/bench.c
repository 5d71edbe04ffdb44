/* bench.c: the benchmarks' common line format and helpers (bench.h). */
#include "bench.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* A word of the line: what the comparison script accepts for a name or
 * metric, so a typo here fails at once rather than in a comparison. */
static gboolean is_word(const char *s)
{
    if (s == NULL || *s == '\0')
        return FALSE;
    for (; *s != '\0'; s++)
        if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '_' &&
            *s != '.' && *s != '-')
            return FALSE;
    return TRUE;
}

static gboolean is_unit(const char *s)
{
    if (s == NULL || *s == '\0')
        return FALSE;
    for (; *s != '\0'; s++)
        if (!g_ascii_isgraph(*s) || *s == '=')
            return FALSE;
    return TRUE;
}

void bench_figure(const char *name, const char *metric, double value,
                  const char *unit, bench_better better, int reps)
{
    static const char *const dirs[] = {"higher", "lower", "none"};
    g_assert(is_word(name) && is_word(metric) && is_unit(unit));
    g_assert(better >= BENCH_HIGHER && better <= BENCH_NONE);
    g_assert(reps >= 1);
    /* Ten significant digits: counts up to 10^10 stay exact; the C
     * locale's decimal point whatever the environment's. */
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(number, sizeof number, "%.10g", value);
    printf("BENCH name=%s metric=%s value=%s unit=%s better=%s reps=%d\n",
           name, metric, number, unit, dirs[better], reps);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *values, size_t n)
{
    g_assert(n >= 1);
    qsort(values, n, sizeof values[0], cmp_double);
    if (n % 2 == 1)
        return values[n / 2];
    return (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

int bench_reps(int default_reps)
{
    const char *s = g_getenv("PEKO_BENCH_REPS");
    if (s == NULL || *s == '\0')
        return default_reps;
    guint64 reps;
    if (!g_ascii_string_to_unsigned(s, 10, 1, 100, &reps, NULL)) {
        fprintf(stderr, "PEKO_BENCH_REPS='%s': expected an integer from 1 "
                        "to 100\n", s);
        exit(2);
    }
    return (int)reps;
}

int bench_large(void)
{
    const char *s = g_getenv("PEKO_BENCH_LARGE");
    if (s == NULL || *s == '\0' || strcmp(s, "0") == 0)
        return 0;
    if (strcmp(s, "1") == 0)
        return 1;
    fprintf(stderr, "PEKO_BENCH_LARGE='%s': expected 0 or 1\n", s);
    exit(2);
}

double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double bench_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}
