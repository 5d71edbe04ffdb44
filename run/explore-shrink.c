/* explore-shrink.c: the fewest faults that still fail (explore.h).
 *
 * Zeller and Hildebrandt's ddmin over a case's items (its standing
 * faults, episodes, publishes and late joins): try each of n chunks of
 * the items kept so far, then each complement; keep the first that still
 * violates the same invariant and go on with fewer chunks, or split
 * finer when none does. The result is 1-minimal (removing any one item
 * makes the failure go away) unless the run budget ran out first. The
 * cluster, engine and quiet period stay as drawn: only faults go.
 */
#include <string.h>

#include "explore.h"

typedef struct shrinker {
    const run_explore_case *c;
    const char *invariant;
    const run_explore_check_options *opts;
    size_t max_runs;
    size_t runs;
    bool *keep;                /* scratch, one flag per item of c */
    run_explore_verdict best;  /* the violation of the smallest so far */
} shrinker;

/* Runs the case with only the items listed; *fails tells whether it
 * violated the invariant. FALSE with *error when it could not run. */
static gboolean attempt(shrinker *s, const size_t *items, size_t n_items,
                        bool *fails, GError **error)
{
    memset(s->keep, 0, s->c->n_items * sizeof *s->keep);
    for (size_t i = 0; i < n_items; i++)
        s->keep[items[i]] = true;
    run_explore_case sub;
    run_explore_case_subset(s->c, s->keep, &sub);
    scn_scenario *sc = run_explore_case_scenario(&sub, error);
    run_explore_case_clear(&sub);
    if (sc == NULL)
        return FALSE;
    run_explore_verdict v;
    gboolean ok = run_explore_check(sc, s->opts, &v, error);
    scn_scenario_free(sc);
    if (!ok)
        return FALSE;
    s->runs++;
    *fails = v.violated && strcmp(v.invariant, s->invariant) == 0;
    if (*fails) {
        run_explore_verdict_clear(&s->best);
        s->best = v;
    } else {
        run_explore_verdict_clear(&v);
    }
    return TRUE;
}

gboolean run_explore_shrink(const run_explore_case *c, const char *invariant,
                            const run_explore_check_options *opts,
                            size_t max_runs, run_explore_case *out,
                            run_explore_verdict *verdict,
                            run_explore_shrink_stats *stats, GError **error)
{
    shrinker s = {
        .c = c,
        .invariant = invariant,
        .opts = opts,
        .max_runs = max_runs,
        .keep = g_new0(bool, MAX(c->n_items, 1)),
    };
    memset(stats, 0, sizeof *stats);
    stats->items_before = c->n_items;
    size_t *current = g_new(size_t, MAX(c->n_items, 1));
    size_t *trial = g_new(size_t, MAX(c->n_items, 1));
    size_t n_current = c->n_items;
    for (size_t i = 0; i < n_current; i++)
        current[i] = i;
    gboolean ok = TRUE;
    bool fails = false;

    /* The original must fail, which also fills s.best. */
    ok = attempt(&s, current, n_current, &fails, error);
    if (ok && fails && n_current > 0) {
        /* Nothing at all may do. */
        bool empty_fails;
        ok = attempt(&s, trial, 0, &empty_fails, error);
        if (ok && empty_fails)
            n_current = 0;
    }
    size_t granularity = 2;
    while (ok && fails && n_current >= 2) {
        if (s.runs >= max_runs) {
            stats->exhausted = true;
            break;
        }
        size_t chunks = MIN(granularity, n_current);
        bool reduced = false;
        /* Each chunk alone, then each complement. */
        for (int pass = 0; pass < 2 && !reduced && ok; pass++) {
            for (size_t k = 0; k < chunks && !reduced && ok; k++) {
                if (s.runs >= max_runs)
                    break;
                size_t lo = k * n_current / chunks;
                size_t hi = (k + 1) * n_current / chunks;
                size_t n_trial = 0;
                for (size_t i = 0; i < n_current; i++)
                    if ((i >= lo && i < hi) == (pass == 0))
                        trial[n_trial++] = current[i];
                if (n_trial == 0 || n_trial == n_current)
                    continue;
                bool f;
                ok = attempt(&s, trial, n_trial, &f, error);
                if (ok && f) {
                    memcpy(current, trial, n_trial * sizeof *trial);
                    n_current = n_trial;
                    granularity = pass == 0 ? 2 : MAX(chunks - 1, 2);
                    reduced = true;
                }
            }
        }
        if (!ok || reduced)
            continue;
        if (chunks >= n_current)
            break; /* 1-minimal: no single item can go */
        granularity = MIN(2 * chunks, n_current);
    }

    stats->runs = s.runs;
    if (ok && !fails) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "the case does not violate '%s' when run again",
                    invariant);
        ok = FALSE;
    }
    if (ok) {
        memset(s.keep, 0, c->n_items * sizeof *s.keep);
        for (size_t i = 0; i < n_current; i++)
            s.keep[current[i]] = true;
        run_explore_case_subset(c, s.keep, out);
        stats->items_after = out->n_items;
        *verdict = s.best;
    } else {
        run_explore_verdict_clear(&s.best);
        memset(verdict, 0, sizeof *verdict);
    }
    g_free(current);
    g_free(trial);
    g_free(s.keep);
    return ok;
}
