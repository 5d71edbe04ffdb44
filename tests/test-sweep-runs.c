/* test-sweep-runs.c: what a sweep has recorded already
 * (analysis/sweep-runs.h), the question `peko sweep` asks to resume.
 *
 * Runs are recorded by hand with the recorder, each with its sweep id,
 * point, repetition and final status, into a database in the test's own
 * temporary directory. */
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "recorder.h"
#include "schema.h"
#include "sweep-runs.h"
#include "testdir.h"

static char *tmpdir;

static void setup(void)
{
    tmpdir = testdir_make("peko-sweep-runs-XXXXXX");
    cr_assert_not_null(tmpdir);
}

static void teardown(void)
{
    testdir_remove(tmpdir);
}

TestSuite(sweep_runs, .init = setup, .fini = teardown, .timeout = 60);

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static int64_t zero_clock(void *user)
{
    (void)user;
    return 0;
}

/* Records one run of one node into `path`: of sweep `sweep_id` (NULL: a
 * run on its own) at `point` and `repetition`, left with `status`
 * (RUNNING: never finished, as when its writer died). */
static void record(const char *path, const char *sweep_id, const char *point,
                   int64_t repetition, ana_status status)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "sweep-runs";
    info.nodes = 1;
    info.sweep_id = sweep_id;
    info.sweep_point = point;
    info.repetition = repetition;
    info.now_us = zero_clock;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec, "%s", error ? error->message : "");
    if (status != ANA_STATUS_RUNNING)
        cr_assert(ana_recorder_finish(rec, status, NULL, 0, 0, 0, 0, &error),
                  "%s", error ? error->message : "");
    ana_recorder_free(rec);
}

Test(sweep_runs, missing_database_has_none_and_stays_missing)
{
    char *path = tmp_path("none.db");
    GError *error = NULL;
    ana_sweep_runs *runs = ana_sweep_runs_load(path, "0123456789abcdef",
                                               &error);
    cr_assert_not_null(runs, "%s", error ? error->message : "");
    cr_assert_eq(ana_sweep_runs_n_complete(runs), 0);
    cr_assert_not(ana_sweep_runs_is_complete(runs, "", 0));
    cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));
    ana_sweep_runs_free(runs);
    g_free(path);
}

Test(sweep_runs, only_complete_runs_of_this_sweep_count)
{
    char *path = tmp_path("runs.db");
    record(path, "aaaa", "engine.amount=1", 0, ANA_STATUS_COMPLETE);
    record(path, "aaaa", "engine.amount=1", 1, ANA_STATUS_INCOMPLETE);
    record(path, "aaaa", "engine.amount=2", 0, ANA_STATUS_RUNNING);
    record(path, "aaaa", "engine.amount=2", 1, ANA_STATUS_COMPLETE);
    record(path, "bbbb", "engine.amount=1", 1, ANA_STATUS_COMPLETE);
    record(path, NULL, NULL, -1, ANA_STATUS_COMPLETE);

    GError *error = NULL;
    ana_sweep_runs *a = ana_sweep_runs_load(path, "aaaa", &error);
    cr_assert_not_null(a, "%s", error ? error->message : "");
    cr_assert_eq(ana_sweep_runs_n_complete(a), 2);
    cr_assert(ana_sweep_runs_is_complete(a, "engine.amount=1", 0));
    cr_assert(ana_sweep_runs_is_complete(a, "engine.amount=2", 1));
    /* Stopped early, or its writer died: to be run again. */
    cr_assert_not(ana_sweep_runs_is_complete(a, "engine.amount=1", 1));
    cr_assert_not(ana_sweep_runs_is_complete(a, "engine.amount=2", 0));
    /* Another sweep's run at the same point is not this sweep's. */
    cr_assert_not(ana_sweep_runs_is_complete(a, "engine.amount=1", 2));
    ana_sweep_runs_free(a);

    ana_sweep_runs *b = ana_sweep_runs_load(path, "bbbb", &error);
    cr_assert_not_null(b, "%s", error ? error->message : "");
    cr_assert_eq(ana_sweep_runs_n_complete(b), 1);
    cr_assert(ana_sweep_runs_is_complete(b, "engine.amount=1", 1));
    cr_assert_not(ana_sweep_runs_is_complete(b, "engine.amount=1", 0));
    ana_sweep_runs_free(b);
    g_free(path);
}

Test(sweep_runs, point_without_axes)
{
    char *path = tmp_path("plain.db");
    record(path, "cccc", "", 3, ANA_STATUS_COMPLETE);
    GError *error = NULL;
    ana_sweep_runs *runs = ana_sweep_runs_load(path, "cccc", &error);
    cr_assert_not_null(runs, "%s", error ? error->message : "");
    cr_assert(ana_sweep_runs_is_complete(runs, "", 3));
    cr_assert_not(ana_sweep_runs_is_complete(runs, "", 0));
    ana_sweep_runs_free(runs);
    g_free(path);
}

Test(sweep_runs, empty_file_has_none)
{
    char *path = tmp_path("empty.db");
    cr_assert(g_file_set_contents(path, "", 0, NULL));
    GError *error = NULL;
    ana_sweep_runs *runs = ana_sweep_runs_load(path, "aaaa", &error);
    cr_assert_not_null(runs, "%s", error ? error->message : "");
    cr_assert_eq(ana_sweep_runs_n_complete(runs), 0);
    ana_sweep_runs_free(runs);
    g_free(path);
}

Test(sweep_runs, text_file_is_refused_untouched)
{
    char *path = tmp_path("notes.db");
    const char *text = "not a database\n";
    cr_assert(g_file_set_contents(path, text, -1, NULL));
    GError *error = NULL;
    ana_sweep_runs *runs = ana_sweep_runs_load(path, "aaaa", &error);
    cr_assert_null(runs);
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_NOT_PEKO), "%s",
              error ? error->message : "no error");
    cr_assert(g_str_has_prefix(error->message, path), "%s", error->message);
    g_error_free(error);
    char *after = NULL;
    cr_assert(g_file_get_contents(path, &after, NULL, NULL));
    cr_assert_str_eq(after, text);
    g_free(after);
    g_free(path);
}
