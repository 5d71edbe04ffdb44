/* report-print.c: the progress bar and the end-of-run report of `peko
 * sim` and `peko testbed` (report-print.h). */
#include "report-print.h"

#include <math.h>
#include <stdio.h>

#include "cli.h"

void cli_report_append_time(GString *out, int64_t us)
{
    char text[32];
    cli_format_seconds(text, sizeof text, us < 0 ? INFINITY : (double)us / 1e6);
    g_string_append(out, text);
}

static void append_row(GString *out, const char *label, int64_t t50,
                       int64_t t99, int64_t t100, double per_node)
{
    g_string_append_printf(out, "  %-26s t50 ", label);
    cli_report_append_time(out, t50);
    g_string_append(out, ", t99 ");
    cli_report_append_time(out, t99);
    g_string_append(out, ", t100 ");
    cli_report_append_time(out, t100);
    g_string_append_printf(out, ", %.2f msgs/node\n", per_node);
}

void cli_report_append_summary(GString *out, const ana_run_summary *s,
                               bool verbose)
{
    g_string_append(out, "rumors (times after creation):\n");
    size_t shown = verbose ? s->n_metadata : MIN(s->n_metadata, 8);
    for (size_t i = 0; i < shown; i++) {
        const ana_rumor_figures *f = &s->metadata[i];
        char label[64];
        g_snprintf(label, sizeof label, "metadata #%" G_GINT64_FORMAT
                                        " from node %" G_GINT64_FORMAT,
                   f->rumor_id, f->origin);
        append_row(out, label, f->t50_us, f->t99_us, f->t100_us,
                   f->messages_per_node);
    }
    if (shown < s->n_metadata)
        g_string_append_printf(out, "  ... %zu more metadata rumors (-v)\n",
                               s->n_metadata - shown);
    if (s->heartbeats > 0) {
        char label[64];
        g_snprintf(label, sizeof label,
                   "heartbeats (median of %" G_GINT64_FORMAT ")",
                   s->heartbeats);
        append_row(out, label, s->heartbeat_t50_us, s->heartbeat_t99_us,
                   s->heartbeat_t100_us, s->heartbeat_messages_per_node);
        g_string_append_printf(out,
                               "  %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                               " sampled heartbeats reached every node\n",
                               s->heartbeat_full, s->heartbeats);
    }
    g_string_append(out, "membership: every live node's list complete ");
    if (s->first_converged_us < 0) {
        g_string_append(out, "never\n");
    } else {
        g_string_append(out, "first at ");
        cli_report_append_time(out, s->first_converged_us);
        if (s->last_unconverged_us > s->first_converged_us) {
            g_string_append(out, ", last incomplete sample at ");
            cli_report_append_time(out, s->last_unconverged_us);
        }
        g_string_append_c(out, '\n');
    }
    g_string_append(out, "packets by outcome:");
    for (size_t i = 0; i < s->outcome_names->len; i++)
        g_string_append_printf(out, "%s %s %" G_GINT64_FORMAT, i ? "," : "",
                               (const char *)g_ptr_array_index(
                                   s->outcome_names, i),
                               g_array_index(s->outcome_packets, int64_t, i));
    g_string_append_c(out, '\n');
}

void cli_progress_draw(cli_progress *p, double frac, const char *detail)
{
    if (!p->enabled)
        return;
    int64_t wall_us = g_get_monotonic_time() - p->start_wall_us;
    if (wall_us < G_USEC_PER_SEC)
        return;
    if (!(frac > 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    char bar[CLI_BAR_WIDTH + 1];
    cli_progress_bar(frac, bar);
    double wall_s = (double)wall_us / 1e6;
    double eta_s = frac > 0 ? wall_s * (1 - frac) / frac : 0;
    fprintf(stderr, "\r[%s] %3.0f%%  %s  ETA %.0f s ", bar, frac * 100,
            detail, eta_s);
    p->shown = true;
}

void cli_progress_end(cli_progress *p, bool keep)
{
    if (!p->shown)
        return;
    fputs(keep ? "\n" : "\r\033[K", stderr);
    p->shown = false;
}

int cli_report_run(const cli_report_run_args *a)
{
    int status = CLI_EXIT_OK;
    GError *error = NULL;
    ana_run_summary summary;
    if (ana_run_summary_load(a->db_path, a->run_id, &summary, &error)) {
        GString *out = g_string_new(NULL);
        a->head(out, &summary, a->user);
        cli_report_append_summary(out, &summary, a->verbose);
        if (a->tail)
            a->tail(out, &summary, a->user);
        fputs(out->str, stdout);
        g_string_free(out, TRUE);
    } else {
        fprintf(stderr, "peko %s: reading back the run: %s\n", a->command,
                error->message);
        g_clear_error(&error);
        status = CLI_EXIT_FAILED;
    }
    ana_run_summary_clear(&summary);
    if (!a->complete) {
        fprintf(stderr, "peko %s: interrupted at %.3f s: the run is"
                        " recorded as incomplete\n",
                a->command, (double)a->reached_us / 1e6);
        status = CLI_EXIT_FAILED;
    } else if (!a->temporary && status == CLI_EXIT_OK && a->ok) {
        printf("recorded: %s, run %" G_GINT64_FORMAT "\n", a->db_path,
               a->run_id);
    }
    return status;
}
