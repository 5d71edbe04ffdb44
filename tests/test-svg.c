/* test-svg.c: the SVG writer (analysis/svg.h) and the page of `peko plot`
 * (analysis/plot.h).
 *
 * Text must come out escaped, numbers with a decimal point whatever the
 * locale, ticks at 1-2-5 steps, and every figure and page well-formed XML:
 * each is parsed back with GLib's GMarkupParseContext. The page is drawn
 * from small databases built here row by row, so every curve is known. */
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>

#include "plot-private.h"
#include "plot.h"
#include "schema.h"
#include "svg.h"
#include "testdir.h"

/* ------------------------------------------------------------------ */
/* Parsing back.                                                        */

typedef struct parsed {
    int elements;
    int depth, max_depth;
    char *root;             /* name of the first element */
    GHashTable *counts;     /* element name -> count */
} parsed;

static void on_start(GMarkupParseContext *context, const char *name,
                     const char **attr_names, const char **attr_values,
                     gpointer user, GError **error)
{
    parsed *p = user;
    if (p->root == NULL)
        p->root = g_strdup(name);
    p->elements++;
    p->depth++;
    p->max_depth = MAX(p->max_depth, p->depth);
    g_hash_table_replace(
        p->counts, g_strdup(name),
        GINT_TO_POINTER(GPOINTER_TO_INT(g_hash_table_lookup(p->counts, name)) +
                        1));
    /* Numbers in attributes never carry a locale's comma or a NaN. */
    for (int i = 0; attr_names[i]; i++) {
        const char *v = attr_values[i];
        if (strstr(v, "nan") || strstr(v, "inf"))
            g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                        "<%s %s=\"%s\">", name, attr_names[i], v);
    }
}

static void on_end(GMarkupParseContext *context, const char *name,
                   gpointer user, GError **error)
{
    ((parsed *)user)->depth--;
}

static const GMarkupParser parser = {
    .start_element = on_start,
    .end_element = on_end,
};

/* Parses `text` as one XML document; fails the test if it is not
 * well-formed. The caller frees the result with parsed_clear(). */
static void parse(const char *text, parsed *out)
{
    memset(out, 0, sizeof *out);
    out->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GMarkupParseContext *context = g_markup_parse_context_new(
        &parser, G_MARKUP_TREAT_CDATA_AS_TEXT, out, NULL);
    GError *error = NULL;
    gboolean ok = g_markup_parse_context_parse(context, text, -1, &error) &&
                  g_markup_parse_context_end_parse(context, &error);
    g_markup_parse_context_free(context);
    cr_assert(ok, "not well-formed: %s", error ? error->message : "?");
    cr_assert_eq(out->depth, 0);
}

static int count_of(const parsed *p, const char *name)
{
    return GPOINTER_TO_INT(g_hash_table_lookup(p->counts, name));
}

static void parsed_clear(parsed *p)
{
    g_free(p->root);
    g_hash_table_destroy(p->counts);
}

/* ------------------------------------------------------------------ */
/* Text and numbers.                                                    */

static char *escaped(const char *text)
{
    GString *out = g_string_new(NULL);
    ana_svg_append_escaped(out, text);
    return g_string_free(out, FALSE);
}

Test(svg, escapes_the_five_xml_specials)
{
    char *s = escaped("<a href=\"x\">Tom & 'Jerry'</a>");
    cr_assert_str_eq(s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; "
                        "&apos;Jerry&apos;&lt;/a&gt;");
    g_free(s);
}

Test(svg, replaces_control_characters_and_bad_utf8)
{
    char *s = escaped("a\x01" "b\tc\xff" "d \xc3\xa9");
    cr_assert_str_eq(s, "a\xef\xbf\xbd" "b\tc\xef\xbf\xbd" "d \xc3\xa9");
    g_free(s);
    s = escaped(NULL);
    cr_assert_str_eq(s, "");
    g_free(s);
}

static char *number(double v, int decimals)
{
    GString *out = g_string_new(NULL);
    ana_svg_append_number(out, v, decimals);
    return g_string_free(out, FALSE);
}

/* Switches to a locale whose decimal separator is a comma: an installed
 * one, or else one compiled with localedef into a temporary directory
 * (LOCPATH; each test runs in its own process). FALSE when neither works. */
static gboolean comma_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",
                                        "fr_FR.UTF-8", "fr_FR.utf8"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (setlocale(LC_ALL, names[i]))
            return TRUE;
    char *dir = g_dir_make_tmp("peko-locale-XXXXXX", NULL);
    if (dir == NULL)
        return FALSE;
    char *target = g_build_filename(dir, "de_DE.UTF-8", NULL);
    const char *argv[] = {"localedef", "-i", "de_DE", "-f", "UTF-8", target,
                          NULL};
    int status = -1;
    gboolean ok = g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_SEARCH_PATH |
                                   G_SPAWN_STDOUT_TO_DEV_NULL |
                                   G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, NULL) &&
                  g_spawn_check_wait_status(status, NULL);
    if (ok) {
        g_setenv("LOCPATH", dir, TRUE);
        ok = setlocale(LC_ALL, "de_DE.UTF-8") != NULL &&
             strcmp(localeconv()->decimal_point, ",") == 0;
    }
    /* The locale stays loaded once set; its files can go. */
    char *rm[] = {"rm", "-rf", dir, NULL};
    g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                 NULL, NULL);
    g_free(target);
    g_free(dir);
    return ok;
}

Test(svg, numbers_use_a_decimal_point_and_no_negative_zero)
{
    struct {
        double v;
        int decimals;
        const char *want;
    } cases[] = {
        {1.5, 1, "1.5"},     {12.0, 1, "12"},   {0.25, 2, "0.25"},
        {0.2, 2, "0.20"},    {-0.0, 1, "0"},    {-0.04, 1, "0"},
        {1234567, 0, "1234567"}, {NAN, 1, "0"}, {INFINITY, 2, "0"},
        {-2.5, 1, "-2.5"},
    };
    gboolean comma = comma_locale();
    for (int pass = 0; pass < (comma ? 2 : 1); pass++) {
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
            char *s = number(cases[i].v, cases[i].decimals);
            cr_assert_str_eq(s, cases[i].want, "%g with %d decimals%s",
                             cases[i].v, cases[i].decimals,
                             pass ? " (comma locale)" : "");
            g_free(s);
        }
        setlocale(LC_ALL, "C");
    }
}

/* ------------------------------------------------------------------ */
/* Ticks.                                                               */

Test(svg, ticks_take_1_2_5_steps_and_round_the_range_out)
{
    struct {
        double lo, hi;
        unsigned max;
        double step, want_lo, want_hi;
        size_t n;
        int decimals;
    } cases[] = {
        {0, 1, 5, 0.2, 0, 1, 6, 1},
        {0, 37, 8, 5, 0, 40, 9, 0},
        {0, 37, 4, 10, 0, 40, 5, 0},
        {0.013, 0.087, 5, 0.02, 0, 0.1, 6, 2},
        {-3, 7, 6, 2, -4, 8, 7, 0},
        {120, 980, 6, 200, 0, 1000, 6, 0},
        {1e6, 6e7, 6, 1e7, 0, 6e7, 7, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        ana_svg_ticks t;
        ana_svg_ticks_choose(cases[i].lo, cases[i].hi, cases[i].max, TRUE,
                             &t);
        cr_assert_float_eq(t.step, cases[i].step, 1e-12 * cases[i].step,
                           "case %zu: step %g", i, t.step);
        cr_assert_float_eq(t.lo, cases[i].want_lo, 1e-9, "case %zu: lo %g",
                           i, t.lo);
        cr_assert_float_eq(t.hi, cases[i].want_hi, 1e-9 * cases[i].want_hi,
                           "case %zu: hi %g", i, t.hi);
        cr_assert_eq(t.n, cases[i].n, "case %zu: %zu ticks", i, t.n);
        cr_assert_eq(t.decimals, cases[i].decimals, "case %zu", i);
        cr_assert_leq(t.n, cases[i].max + 1, "case %zu", i);
    }
}

Test(svg, ticks_stay_inside_a_fixed_range)
{
    ana_svg_ticks t;
    ana_svg_ticks_choose(0.5, 4.5, 8, FALSE, &t);
    cr_assert_float_eq(t.lo, 0.5, 1e-12);
    cr_assert_float_eq(t.hi, 4.5, 1e-12);
    cr_assert_float_eq(t.step, 0.5, 1e-12);
    cr_assert_float_eq(t.first, 0.5, 1e-12);
    cr_assert_eq(t.n, 9);
}

Test(svg, an_empty_range_is_widened)
{
    ana_svg_ticks t;
    ana_svg_ticks_choose(5, 5, 6, TRUE, &t);
    cr_assert_lt(t.lo, 5);
    cr_assert_gt(t.hi, 5);
    ana_svg_ticks_choose(0, 0, 6, TRUE, &t);
    cr_assert_float_eq(t.lo, -1, 1e-12);
    cr_assert_float_eq(t.hi, 1, 1e-12);
    cr_assert_gt(t.n, 1);
}

Test(svg, log_ticks_are_1_2_5_per_decade_or_powers_of_ten)
{
    ana_svg_log_ticks t;
    ana_svg_log_ticks_choose(1, 500, TRUE, &t);
    static const double fine[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
    cr_assert_eq(t.n, G_N_ELEMENTS(fine));
    for (size_t i = 0; i < t.n; i++)
        cr_assert_float_eq(t.tick[i], fine[i], 1e-9 * fine[i], "tick %zu", i);

    ana_svg_log_ticks_choose(0.0042, 12, TRUE, &t);
    cr_assert_float_eq(t.lo, 0.002, 1e-15);
    cr_assert_float_eq(t.hi, 20, 1e-12);
    static const double coarse[] = {0.01, 0.1, 1, 10};
    cr_assert_eq(t.n, G_N_ELEMENTS(coarse));
    for (size_t i = 0; i < t.n; i++)
        cr_assert_float_eq(t.tick[i], coarse[i], 1e-9 * coarse[i]);
    cr_assert_eq(t.decimals[0], 2);
    cr_assert_eq(t.decimals[3], 0);

    /* Nine decades still fit in the tick array. */
    ana_svg_log_ticks_choose(1e-3, 1e9, TRUE, &t);
    cr_assert_gt(t.n, 2);
    cr_assert_leq(t.n, ANA_SVG_MAX_TICKS);
}

/* ------------------------------------------------------------------ */
/* Figures.                                                             */

static ana_svg_figure *busy_figure(void)
{
    ana_svg_figure *fig = ana_svg_figure_new("Coverage <&> \"quotes\"");
    ana_svg_figure_set_axis(fig, ANA_SVG_X, "time & space", ANA_SVG_TIME_US);
    ana_svg_figure_set_axis(fig, ANA_SVG_Y, "nodes", ANA_SVG_PERCENT);
    ana_svg_figure_set_range(fig, ANA_SVG_Y, 0, 1);
    double x[] = {0, 1000, 2500, NAN, 40000, INFINITY};
    double y[] = {0, 0.2, 0.5, 0.6, 0.9, 0.9};
    ana_svg_figure_line(fig, "a <line>", 0, ANA_SVG_SOLID, x, y, 6);
    ana_svg_figure_line(fig, NULL, 1, ANA_SVG_DASHED, x, y, 6);
    double lo[] = {0, 500, 2000, 3000, 30000, 35000};
    double hi[] = {0, 2000, 4000, 6000, INFINITY, INFINITY};
    ana_svg_figure_band(fig, "a band", 2, lo, y, 6, hi, y, 6);
    double px[] = {1000, 2000, 3000};
    double py[] = {0.3, NAN, 0.7};
    double pl[] = {0.2, 0.4, 0.6};
    double ph[] = {0.4, 0.5, INFINITY};
    ana_svg_figure_points(fig, "points", 3, px, py, pl, ph, 3);
    ana_svg_figure_marker(fig, 20000, "crash 'n' burn & <restart>");
    ana_svg_figure_marker(fig, 20000, "at the same time");
    ana_svg_figure_marker(fig, 21000, "a little later");
    ana_svg_figure_marker(fig, NAN, "never drawn");
    ana_svg_figure_note(fig, "dashed: theory", ANA_SVG_DASHED);
    return fig;
}

Test(svg, a_figure_is_well_formed_xml)
{
    ana_svg_figure *fig = busy_figure();
    GString *out = g_string_new(NULL);
    ana_svg_figure_write(fig, "f1", out);
    parsed p;
    parse(out->str, &p);
    cr_assert_str_eq(p.root, "svg");
    cr_assert_eq(count_of(&p, "svg"), 1);
    cr_assert_eq(count_of(&p, "clipPath"), 1);
    cr_assert_eq(count_of(&p, "polygon"), 1, "one band");
    /* Two of three points have a finite y. */
    cr_assert_eq(count_of(&p, "circle"), 2 + 1, "points and legend dot");
    cr_assert_geq(count_of(&p, "text"), 10);
    cr_assert(strstr(out->str, "Coverage &lt;&amp;&gt; &quot;quotes&quot;"));
    cr_assert(strstr(out->str, "time &amp; space (ms)"),
              "the time axis picks ms for a 40 ms range");
    cr_assert(strstr(out->str, "nodes (%)"));
    cr_assert(strstr(out->str, "(+1)"), "markers at one pixel share a label");
    cr_assert_null(strstr(out->str, "never drawn"));
    parsed_clear(&p);
    g_string_free(out, TRUE);
    ana_svg_figure_free(fig);
}

Test(svg, an_empty_figure_is_well_formed_xml)
{
    ana_svg_figure *fig = ana_svg_figure_new(NULL);
    GString *out = g_string_new(NULL);
    ana_svg_figure_write(fig, "empty", out);
    parsed p;
    parse(out->str, &p);
    cr_assert_str_eq(p.root, "svg");
    parsed_clear(&p);
    g_string_free(out, TRUE);
    ana_svg_figure_free(fig);
    ana_svg_figure_free(NULL);
}

Test(svg, a_log_axis_is_well_formed_and_says_so)
{
    ana_svg_figure *fig = ana_svg_figure_new("log");
    ana_svg_figure_set_axis(fig, ANA_SVG_X, "t", ANA_SVG_TIME_US);
    ana_svg_figure_set_log(fig, ANA_SVG_X, TRUE);
    double x[] = {0, 3000, 50000, 4e6};
    double y[] = {0, 1, 2, 3};
    ana_svg_figure_line(fig, "l", 0, ANA_SVG_SOLID, x, y, 4);
    GString *out = g_string_new(NULL);
    ana_svg_figure_write(fig, "lg", out);
    parsed p;
    parse(out->str, &p);
    cr_assert(strstr(out->str, "t (s, log scale)"));
    parsed_clear(&p);
    g_string_free(out, TRUE);
    ana_svg_figure_free(fig);
}

Test(svg, output_does_not_depend_on_the_locale)
{
    ana_svg_figure *fig = busy_figure();
    GString *c = g_string_new(NULL);
    ana_svg_figure_write(fig, "f", c);
    if (!comma_locale()) {
        g_string_free(c, TRUE);
        ana_svg_figure_free(fig);
        cr_skip_test("no locale with a decimal comma installed");
    }
    GString *other = g_string_new(NULL);
    ana_svg_figure_write(fig, "f", other);
    setlocale(LC_ALL, "C");
    cr_assert_str_eq(other->str, c->str);
    g_string_free(c, TRUE);
    g_string_free(other, TRUE);
    ana_svg_figure_free(fig);
}

/* ------------------------------------------------------------------ */
/* The page of peko plot, from databases built here.                    */

static char *tmpdir;

static void setup(void)
{
    tmpdir = testdir_make("peko-plot-XXXXXX");
    cr_assert_not_null(tmpdir);
}

static void teardown(void)
{
    testdir_remove(tmpdir);
}

TestSuite(plot, .init = setup, .fini = teardown, .timeout = 60);

static void exec(sqlite3 *db, const char *sql)
{
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, message ? message : "");
}

/* A run of 10 nodes with fan-out `amount`, one metadata rumor that
 * reaches `reached` nodes (node i at i * step_us), one heartbeat, a few
 * membership samples and a timeline of two events. */
static void add_run(sqlite3 *db, int run_id, int amount, int repetition,
                    int reached, int step_us)
{
    char *sql = g_strdup_printf(
        "INSERT INTO run (run_id, scenario, params, seed, version, source,"
        " status, nodes, heartbeat_origins, heartbeat_every, started_at,"
        " sim_time_us, sweep_point, repetition) VALUES (%d, 'tiny.ini',"
        " '{\"engine\":{\"amount\":%d},\"network\":{\"latency_us\":"
        "{\"expected\":1000},\"loss\":{\"expected\":0}}}', %d, '0', 'sim',"
        " 'complete', 10, 1, 1, '2024-01-01T00:00:00Z', 10000000,"
        " 'engine.amount=%d', %d);\n"
        "INSERT INTO rumor (run_id, rumor_id, kind, origin, created_us,"
        " engine_id, infected, messages) VALUES"
        " (%d, 1, 'heartbeat', 0, 1000000, '1', 10, 20),"
        " (%d, 2, 'metadata', 3, 5000000, '2', %d, %d);\n"
        "INSERT INTO timeline VALUES (%d, 0, 5000000, 'publish', 'v1 3'),"
        " (%d, 1, 7000000, 'crash', 'down <&> 2');\n",
        run_id, amount, 7 + repetition, amount, repetition, run_id, run_id,
        reached, amount * reached, run_id, run_id);
    exec(db, sql);
    g_free(sql);
    for (int node = 0; node < 10; node++) {
        sql = g_strdup_printf(
            "INSERT INTO infection VALUES (%d, 1, %d, %d, %d, NULL, '%s');",
            run_id, node, node * 700, node ? 1 : 0,
            node ? "rumor" : "origin");
        exec(db, sql);
        g_free(sql);
    }
    for (int node = 0; node < reached; node++) {
        sql = g_strdup_printf(
            "INSERT INTO infection VALUES (%d, 2, %d, %d, %d, NULL, '%s');",
            run_id, (node + 3) % 10, node * step_us, node ? 1 : 0,
            node ? "rumor" : "origin");
        exec(db, sql);
        g_free(sql);
    }
    for (int s = 0; s < 10; s++) {
        sql = g_strdup_printf("INSERT INTO membership VALUES (%d, %d, %d, 10,"
                              " %d);",
                              run_id, s, (s + 1) * 1000000, s < 3 ? s * 3 : 10);
        exec(db, sql);
        g_free(sql);
    }
}

static char *make_db(const char *name)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    GError *error = NULL;
    cr_assert(ana_schema_ensure(db, &error), "%s",
              error ? error->message : "");
    sqlite3_close(db);
    return path;
}

static char *render(const char *path, ana_plot_info *info)
{
    GString *html = g_string_new(NULL);
    GError *error = NULL;
    cr_assert(ana_plot_render(path, html, info, &error), "%s",
              error ? error->message : "");
    return g_string_free(html, FALSE);
}

Test(plot, sweep_points_split_outside_parentheses)
{
    char **parts = plot_split_point(
        "engine.amount=3,network.loss=gilbert_elliott(p=1%, q=2%),x=");
    cr_assert_eq(g_strv_length(parts), 3);
    cr_assert_str_eq(parts[0], "engine.amount=3");
    cr_assert_str_eq(parts[1], "network.loss=gilbert_elliott(p=1%, q=2%)");
    cr_assert_str_eq(parts[2], "x=");
    g_strfreev(parts);
    parts = plot_split_point("");
    cr_assert_eq(g_strv_length(parts), 0);
    g_strfreev(parts);
}

Test(plot, short_labels_keep_what_differs)
{
    const char *scenarios[] = {"fanout.ini", "fanout.ini", "fanout.ini"};
    const char *points[] = {"cluster.nodes=200,engine.amount=1",
                            "cluster.nodes=200,engine.amount=2",
                            "cluster.nodes=200,engine.amount=10"};
    char **labels = plot_short_labels(scenarios, points, 3);
    cr_assert_str_eq(labels[0], "engine.amount=1");
    cr_assert_str_eq(labels[2], "engine.amount=10");
    g_strfreev(labels);

    const char *mixed[] = {"a.ini", "b.ini"};
    const char *same[] = {"engine.amount=3", "engine.amount=3"};
    labels = plot_short_labels(mixed, same, 2);
    cr_assert_str_eq(labels[0], "a.ini");
    cr_assert_str_eq(labels[1], "b.ini");
    g_strfreev(labels);

    labels = plot_short_labels(scenarios, points, 1);
    cr_assert_str_eq(labels[0],
                     "fanout.ini cluster.nodes=200,engine.amount=1");
    g_strfreev(labels);
}

Test(plot, a_sweep_page_is_well_formed_with_every_section)
{
    char *path = make_db("sweep.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    int run = 1;
    for (int amount = 1; amount <= 3; amount++)
        for (int rep = 0; rep < 3; rep++)
            add_run(db, run++, amount, rep, amount == 1 ? 6 + rep : 10,
                    4000 / amount + 100 * rep);
    sqlite3_close(db);

    ana_plot_info info;
    char *html = render(path, &info);
    cr_assert_eq(info.runs, 9);
    cr_assert_eq(info.runs_total, 9);
    cr_assert_eq(info.configs, 3);
    cr_assert_eq(info.bytes, strlen(html));
    parsed p;
    parse(html, &p);
    cr_assert_str_eq(p.root, "html");
    /* Coverage (after creation, heartbeats, over the run), CDF, t90 and
     * t99 (one figure) and messages against fan-out, membership. */
    cr_assert_eq(count_of(&p, "svg"), 7, "%d figures",
                 count_of(&p, "svg"));
    cr_assert_eq(count_of(&p, "script"), 0);
    cr_assert(strstr(html, "min\u2013max over repetitions"));
    cr_assert(strstr(html, "theory (forward-once, t90)"));
    cr_assert(strstr(html, "measured t90: median, min\u2013max"));
    cr_assert(strstr(html, "measured t99: median, min\u2013max"));
    cr_assert(strstr(html, "push model"));
    cr_assert(strstr(html, "engine.amount=2"));
    cr_assert(strstr(html, "down &lt;&amp;&gt; 2"), "events are escaped");
    cr_assert(strstr(html, "The runs do not differ by loss rate"));
    /* Nothing to fetch: no link, no source, no style sheet. */
    cr_assert_null(strstr(html, "href="));
    cr_assert_null(strstr(html, "src="));
    cr_assert_null(strstr(html, "@import"));
    parsed_clear(&p);
    g_free(html);
    g_free(path);
}

/* The figures plot takes from the runset (runs.h), beside value[]: the
 * heartbeats' own, the overrides and the run's length. */
Test(plot, the_runset_gives_what_the_page_needs)
{
    char *path = make_db("fields.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    add_run(db, 1, 3, 0, 10, 1000);
    exec(db, "UPDATE run SET params = json_set(params, '$.overrides',"
             " json('[\"cluster.seed=7\",\"engine.amount=3\"]'))");
    sqlite3_close(db);

    ana_runset set;
    GError *error = NULL;
    cr_assert(ana_runset_load(path, -1, &set, &error), "%s",
              error ? error->message : "");
    cr_assert_eq(set.n_runs, 1);
    /* Without asking, the heartbeats are only counted. */
    cr_assert_eq(set.runs[0].heartbeats, 1);
    cr_assert(isnan(set.runs[0].heartbeat_value[ANA_METRIC_T99]));
    ana_runset_clear(&set);
    cr_assert(ana_runset_load_full(path, -1, ANA_RUNSET_HEARTBEATS, &set,
                                   &error),
              "%s", error ? error->message : "");
    const ana_run *run = &set.runs[0];
    /* value[] is over the metadata rumor: node k at k ms. */
    cr_assert_not(run->heartbeats_only);
    cr_assert_float_eq(run->value[ANA_METRIC_T90], 8e-3, 1e-12);
    cr_assert_float_eq(run->value[ANA_METRIC_MESSAGES], 3.0, 1e-12);
    /* The heartbeat alone: node k at 0.7 k ms, 20 packets. */
    cr_assert_eq(run->heartbeats, 1);
    cr_assert_float_eq(run->heartbeat_value[ANA_METRIC_T50], 2.8e-3, 1e-12);
    cr_assert_float_eq(run->heartbeat_value[ANA_METRIC_T99], 6.3e-3, 1e-12);
    cr_assert_float_eq(run->heartbeat_value[ANA_METRIC_MESSAGES], 2.0,
                       1e-12);
    cr_assert_float_eq(run->heartbeat_value[ANA_METRIC_ROUNDS50], 2.8,
                       1e-9);
    cr_assert(isnan(run->heartbeat_value[ANA_METRIC_CONVERGENCE]));
    cr_assert_str_eq(run->overrides, "engine.amount=3");
    cr_assert_float_eq(run->sim_time_s, 10.0, 1e-12);
    ana_runset_clear(&set);
    g_free(path);
}

/* Runs outside a sweep group by their parameters and are named by their
 * --set list, the seed left out. */
Test(plot, plain_runs_are_named_by_their_overrides)
{
    char *path = make_db("plain.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    add_run(db, 1, 4, 0, 10, 1000);
    add_run(db, 2, 2, 0, 10, 2000);
    add_run(db, 3, 2, 1, 10, 2100);
    exec(db, "UPDATE run SET sweep_point = '', repetition = NULL,"
             " params = json_set(params, '$.overrides', json(printf("
             " '[\"engine.amount=%d\",\"cluster.seed=%d\"]',"
             " json_extract(params, '$.engine.amount'), seed)))");
    sqlite3_close(db);

    ana_plot_info info;
    char *html = render(path, &info);
    cr_assert_eq(info.runs, 3);
    cr_assert_eq(info.configs, 2);
    cr_assert(strstr(html, "tiny.ini engine.amount=2"));
    cr_assert(strstr(html, "tiny.ini engine.amount=4"));
    cr_assert_null(strstr(html, "cluster.seed"));
    /* In the order of runs.h, by parameters: amount 2 (two runs) first. */
    cr_assert(strstr(html, "engine.amount=2</td><td>2</td>"));
    cr_assert(strstr(html, "engine.amount=2") <
              strstr(html, "engine.amount=4"));
    cr_assert(strstr(html, "measured t90"));
    g_free(html);
    g_free(path);
}

/* Only complete runs are drawn; the others are counted in the header,
 * and with none complete the page says so and draws nothing. */
Test(plot, runs_not_complete_are_counted_not_drawn)
{
    char *path = make_db("partial.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    add_run(db, 1, 3, 0, 10, 1000);
    add_run(db, 2, 3, 1, 10, 1000);
    exec(db, "UPDATE run SET status = 'incomplete' WHERE run_id = 2");
    sqlite3_close(db);
    ana_plot_info info;
    char *html = render(path, &info);
    cr_assert_eq(info.runs, 1);
    cr_assert_eq(info.runs_total, 2);
    cr_assert(strstr(html, "Not drawn, not complete: 1 run,"), "%s", html);
    g_free(html);

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec(db, "UPDATE run SET status = 'running' WHERE run_id = 1");
    sqlite3_close(db);
    html = render(path, &info);
    cr_assert_eq(info.runs, 0);
    cr_assert_eq(info.runs_total, 2);
    cr_assert_eq(info.configs, 0);
    parsed p;
    parse(html, &p);
    cr_assert_eq(count_of(&p, "svg"), 0);
    cr_assert(strstr(html, "No run is complete: nothing is drawn (2 runs"));
    cr_assert(strstr(html, "holds no complete run"));
    parsed_clear(&p);
    g_free(html);
    g_free(path);
}

Test(plot, a_database_without_runs_draws_notes_only)
{
    char *path = make_db("empty.db");
    GString *html = g_string_new(NULL);
    GError *error = NULL;
    /* A schema without runs is a peko database: it draws notes only. */
    cr_assert(ana_plot_render(path, html, NULL, &error));
    parsed p;
    parse(html->str, &p);
    cr_assert_eq(count_of(&p, "svg"), 0);
    cr_assert(strstr(html->str, "holds no run"));
    parsed_clear(&p);
    g_string_free(html, TRUE);
    g_free(path);
}

Test(plot, refuses_what_is_not_a_peko_database)
{
    char *text = g_build_filename(tmpdir, "notes.txt", NULL);
    cr_assert(g_file_set_contents(text, "hello, not a database\n", -1, NULL));
    char *other = g_build_filename(tmpdir, "other.db", NULL);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(other, &db), SQLITE_OK);
    exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    sqlite3_close(db);
    char *blank = g_build_filename(tmpdir, "blank.db", NULL);
    cr_assert(g_file_set_contents(blank, "", 0, NULL));

    const char *paths[] = {text, other, blank};
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        GString *html = g_string_new("kept");
        GError *error = NULL;
        cr_assert_not(ana_plot_render(paths[i], html, NULL, &error), "%s",
                      paths[i]);
        cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_NOT_PEKO),
                  "%s: %s", paths[i], error->message);
        cr_assert(strstr(error->message, paths[i]), "%s", error->message);
        cr_assert_str_eq(html->str, "kept");
        g_error_free(error);
        g_string_free(html, TRUE);
    }
    g_free(text);
    g_free(other);
    g_free(blank);
}

/* A database of an older schema is refused with the command that
 * upgrades it, and nothing is drawn. */
Test(plot, refuses_an_older_schema_and_says_how_to_upgrade)
{
    char *path = make_db("old.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec(db, "PRAGMA user_version = 1;");
    sqlite3_close(db);
    GString *html = g_string_new("kept");
    GError *error = NULL;
    cr_assert_not(ana_plot_render(path, html, NULL, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_SCHEMA), "%s",
              error->message);
    cr_assert(strstr(error->message, "peko merge"), "%s", error->message);
    cr_assert_str_eq(html->str, "kept");
    g_error_free(error);
    g_string_free(html, TRUE);
    g_free(path);
}

Test(plot, a_failed_write_leaves_the_old_page)
{
    char *path = make_db("one.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    add_run(db, 1, 3, 0, 10, 1000);
    sqlite3_close(db);

    char *page = g_build_filename(tmpdir, "page.html", NULL);
    cr_assert(g_file_set_contents(page, "old", -1, NULL));
    char *missing = g_build_filename(tmpdir, "no-such.db", NULL);
    GError *error = NULL;
    cr_assert_not(ana_plot_write(missing, page, NULL, &error));
    g_clear_error(&error);
    char *contents = NULL;
    cr_assert(g_file_get_contents(page, &contents, NULL, NULL));
    cr_assert_str_eq(contents, "old");
    g_free(contents);

    cr_assert(ana_plot_write(path, page, NULL, &error), "%s",
              error ? error->message : "");
    cr_assert(g_file_get_contents(page, &contents, NULL, NULL));
    parsed p;
    parse(contents, &p);
    /* One run with one heartbeat: no band, no sweep figure. */
    cr_assert_eq(count_of(&p, "polygon"), 0);
    cr_assert(strstr(contents, "The runs do not differ by fan-out"));
    parsed_clear(&p);
    g_free(contents);

    char *nowhere = g_build_filename(tmpdir, "no-dir", "page.html", NULL);
    cr_assert_not(ana_plot_write(path, nowhere, NULL, &error));
    cr_assert(error != NULL && error->domain == G_FILE_ERROR);
    g_clear_error(&error);

    /* Nothing else was left in the directory: no temporary file. */
    GDir *dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL)
        cr_assert(g_str_has_prefix(name, "one.db") ||
                      strcmp(name, "page.html") == 0,
                  "left behind: %s", name);
    g_dir_close(dir);
    g_free(nowhere);
    g_free(missing);
    g_free(page);
    g_free(path);
}
