/* testbed-workers.c: one testbed run over several processes
 * (run_testbed_workers in testbed.h; the channel in testbed-workers.h).
 *
 * The coordinator forks the workers, each runs run_testbed() on its
 * share of the nodes, and the coordinator only relays: the ports every
 * worker bound, then one start time for all. CLOCK_MONOTONIC is the
 * machine's, so one number is time 0 for every worker and no offsets
 * are needed when their recordings are combined (combine.h). Lateness
 * is each worker's own: the most it ran a step of the plan after its
 * time. */
#include "testbed.h"
#include "testbed-workers.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "combine.h"
#include "schema.h"

/* From the last worker bound to time 0: every worker must be waiting for
 * it, with room for a loaded machine to schedule them. */
#define START_DELAY_US 300000
/* A control line is at most this long (a port is at most 6 bytes). */
#define LINE_MAX_BYTES(n) (64 + 7 * (size_t)(n) + 4096)
/* How often the coordinator looks at the stop flag and the progress. */
#define POLL_MS 100

/* ------------------------------------------------------------------ */
/* Lines on a stream socket.                                           */

static gboolean send_line(int fd, const char *line, GError **error)
{
    size_t n = strlen(line), done = 0;
    while (done < n) {
        ssize_t k = send(fd, line + done, n - done, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                        "the control channel: %s", g_strerror(e));
            return FALSE;
        }
        done += (size_t)k;
    }
    return TRUE;
}

/* Reads one line (without its '\n') of at most `max` bytes, blocking. */
static char *read_line(int fd, size_t max, GError **error)
{
    GString *s = g_string_new(NULL);
    for (;;) {
        char c;
        ssize_t k = read(fd, &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                        "the coordinator is gone");
            g_string_free(s, TRUE);
            return NULL;
        }
        if (c == '\n')
            return g_string_free(s, FALSE);
        if (s->len >= max) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                        "a control line longer than %zu bytes", max);
            g_string_free(s, TRUE);
            return NULL;
        }
        g_string_append_c(s, c);
    }
}

/* Parses words[0 .. n-1] as ports into out; FALSE on anything else. */
static bool parse_ports(char **words, size_t n, uint16_t *out)
{
    for (size_t i = 0; i < n; i++) {
        guint64 v;
        if (words[i] == NULL ||
            !g_ascii_string_to_unsigned(words[i], 10, 1, G_MAXUINT16, &v,
                                        NULL))
            return false;
        out[i] = (uint16_t)v;
    }
    return true;
}

gboolean run__tb_worker_exchange(int fd, const uint16_t *own, size_t n_own,
                                 size_t n_all, int64_t *start_us,
                                 uint16_t *all, GError **error)
{
    GString *line = g_string_new("bound");
    for (size_t i = 0; i < n_own; i++)
        g_string_append_printf(line, " %u", own[i]);
    g_string_append_c(line, '\n');
    gboolean ok = send_line(fd, line->str, error);
    g_string_free(line, TRUE);
    if (!ok)
        return FALSE;
    char *in = read_line(fd, LINE_MAX_BYTES(n_all), error);
    if (in == NULL)
        return FALSE;
    char **w = g_strsplit(in, " ", -1);
    gint64 t = 0;
    ok = g_strv_length(w) == n_all + 2 && strcmp(w[0], "start") == 0 &&
         g_ascii_string_to_signed(w[1], 10, 0, G_MAXINT64, &t, NULL) &&
         parse_ports(w + 2, n_all, all);
    if (!ok)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "the coordinator's start is not understood");
    *start_us = t;
    g_strfreev(w);
    g_free(in);
    return ok;
}

/* ------------------------------------------------------------------ */
/* A worker.                                                            */

static G_NORETURN void worker_main(const scn_scenario *sc,
                                   const run_testbed_options *base,
                                   size_t workers, size_t w, int fd,
                                   const char *db_path)
{
    run_testbed_options o = *base;
    o.db_path = db_path;
    o.capture_path = NULL;
    o.progress = NULL;
    o.started = NULL;
    o.workers = workers;
    o.worker = w;
    o.control_fd = fd;
    run_testbed_result r;
    GError *error = NULL;
    char *line;
    int status = 0;
    if (run_testbed(sc, &o, &r, &error)) {
        line = g_strdup_printf("done %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
                               " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                               " %.6f %ld\n",
                               r.complete ? 1 : 0, r.run_time_us,
                               r.late_max_us, r.deliveries, r.delayed,
                               r.cpu_s, r.peak_rss_kib);
    } else {
        char *msg = g_strdelimit(g_strdup(error->message), "\n", ' ');
        line = g_strdup_printf("fail %s\n", msg);
        g_free(msg);
        g_clear_error(&error);
        status = 1;
    }
    send_line(fd, line, NULL); /* the coordinator may be gone: nothing
                                * else to tell */
    g_free(line);
    fflush(NULL);
    _exit(status);
}

/* ------------------------------------------------------------------ */
/* The coordinator.                                                     */

typedef enum { W_STARTING, W_BOUND, W_RUNNING, W_DONE, W_GONE } w_state;

typedef struct worker {
    pid_t pid;
    int fd;                 /* -1 once closed */
    GString *in;            /* bytes of an unfinished line */
    w_state state;
    size_t first, last;     /* its nodes */
    uint16_t *ports;        /* its nodes' ports, once bound */
    char *db_path;
    bool complete;
    int64_t run_us, late_us;
    uint64_t deliveries, delayed;
    double cpu_s;
    long rss_kib;
} worker;

typedef struct coord {
    const scn_scenario *sc;
    const run_testbed_options *opts;
    worker *w;
    size_t k;
    char *dir;
    char *failure;          /* the first failure, for *error */
} coord;

static void fail(coord *c, char *message)
{
    if (c->failure == NULL)
        c->failure = message;
    else
        g_free(message);
}

/* How worker i ended, as a sentence. */
static char *how_it_ended(const coord *c, size_t i, int status)
{
    const worker *w = &c->w[i];
    char *how = WIFSIGNALED(status)
                    ? g_strdup_printf("killed by signal %d (%s)",
                                      WTERMSIG(status),
                                      g_strsignal(WTERMSIG(status)))
                    : g_strdup_printf("exited with status %d",
                                      WEXITSTATUS(status));
    char *s = g_strdup_printf("worker %zu (pid %ld, nodes %zu-%zu) died"
                              " before its run ended: %s",
                              i, (long)w->pid, w->first, w->last - 1, how);
    g_free(how);
    return s;
}

static void reap(coord *c, size_t i, bool report)
{
    worker *w = &c->w[i];
    if (w->pid <= 0)
        return;
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (report)
        fail(c, how_it_ended(c, i, status));
    w->pid = 0;
}

static void close_fd(worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}

static void signal_all(coord *c, int signo)
{
    for (size_t i = 0; i < c->k; i++)
        if (c->w[i].pid > 0 && c->w[i].state != W_DONE)
            kill(c->w[i].pid, signo);
}

static bool handle_line(coord *c, size_t i, const char *line)
{
    worker *w = &c->w[i];
    char **words = g_strsplit(line, " ", -1);
    size_t n = g_strv_length(words);
    bool ok = false;
    if (w->state == W_STARTING && n == w->last - w->first + 1 &&
        strcmp(words[0], "bound") == 0) {
        w->ports = g_new(uint16_t, n);
        ok = parse_ports(words + 1, n - 1, w->ports);
        w->state = W_BOUND;
    } else if (w->state == W_RUNNING && n == 8 &&
               strcmp(words[0], "done") == 0) {
        gint64 run_us, late_us, rss;
        guint64 cmp, deliv, delayed;
        char *end = NULL;
        w->cpu_s = g_ascii_strtod(words[6], &end);
        ok = g_ascii_string_to_unsigned(words[1], 10, 0, 1, &cmp, NULL) &&
             g_ascii_string_to_signed(words[2], 10, 0, G_MAXINT64, &run_us,
                                      NULL) &&
             g_ascii_string_to_signed(words[3], 10, 0, G_MAXINT64, &late_us,
                                      NULL) &&
             g_ascii_string_to_unsigned(words[4], 10, 0, G_MAXUINT64, &deliv,
                                        NULL) &&
             g_ascii_string_to_unsigned(words[5], 10, 0, G_MAXUINT64,
                                        &delayed, NULL) &&
             end && *end == '\0' &&
             g_ascii_string_to_signed(words[7], 10, 0, G_MAXINT64, &rss,
                                      NULL);
        w->complete = cmp == 1;
        w->run_us = run_us;
        w->late_us = late_us;
        w->deliveries = deliv;
        w->delayed = delayed;
        w->rss_kib = (long)rss;
        w->state = W_DONE;
    } else if (g_str_has_prefix(line, "fail ")) {
        fail(c, g_strdup_printf("worker %zu (nodes %zu-%zu): %s", i, w->first,
                                w->last - 1, line + 5));
        w->state = W_GONE;
        g_strfreev(words);
        return false;
    }
    if (!ok)
        fail(c, g_strdup_printf("worker %zu sent a line not understood", i));
    g_strfreev(words);
    return ok;
}

/* Reads what worker i sent; false when it failed or is gone. */
static bool read_worker(coord *c, size_t i)
{
    worker *w = &c->w[i];
    char buf[4096];
    ssize_t k = read(w->fd, buf, sizeof buf);
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (k <= 0) {
        close_fd(w);
        if (w->state != W_DONE) {
            w->state = W_GONE;
            reap(c, i, true);
            return false;
        }
        return true;
    }
    g_string_append_len(w->in, buf, k);
    char *nl;
    while ((nl = memchr(w->in->str, '\n', w->in->len)) != NULL) {
        *nl = '\0';
        bool ok = handle_line(c, i, w->in->str);
        g_string_erase(w->in, 0, nl - w->in->str + 1);
        if (!ok)
            return false;
    }
    if (w->in->len > LINE_MAX_BYTES(c->sc->cluster.nodes)) {
        fail(c, g_strdup_printf("worker %zu sent a line too long", i));
        return false;
    }
    return true;
}

static bool all_in(const coord *c, w_state s)
{
    for (size_t i = 0; i < c->k; i++)
        if (c->w[i].state != s)
            return false;
    return true;
}

/* Every worker's ports, then one time 0 for all. */
static bool send_start(coord *c)
{
    size_t n = c->sc->cluster.nodes;
    GString *line = g_string_new(NULL);
    g_string_printf(line, "start %" G_GINT64_FORMAT,
                    g_get_monotonic_time() + START_DELAY_US);
    for (size_t i = 0; i < c->k; i++)
        for (size_t j = 0; j < c->w[i].last - c->w[i].first; j++)
            g_string_append_printf(line, " %u", c->w[i].ports[j]);
    g_string_append_c(line, '\n');
    (void)n;
    bool ok = true;
    for (size_t i = 0; ok && i < c->k; i++) {
        GError *e = NULL;
        ok = send_line(c->w[i].fd, line->str, &e);
        if (!ok) {
            fail(c, g_strdup_printf("worker %zu: %s", i, e->message));
            g_error_free(e);
        }
        c->w[i].state = W_RUNNING;
    }
    g_string_free(line, TRUE);
    return ok;
}

/* Runs until every worker is done or one failed. */
static bool supervise(coord *c, int64_t *start_wall)
{
    bool stopping = false;
    struct pollfd *pfd = g_new(struct pollfd, c->k);
    bool ok = true;
    while (ok && !all_in(c, W_DONE)) {
        if (!stopping && c->opts->stop && *c->opts->stop) {
            /* Ctrl-C reaches the workers too, from the terminal; SIGTERM
             * to the coordinator does not: pass it on. */
            signal_all(c, SIGTERM);
            stopping = true;
        }
        for (size_t i = 0; i < c->k; i++)
            pfd[i] = (struct pollfd){.fd = c->w[i].fd, .events = POLLIN};
        int rc = poll(pfd, c->k, POLL_MS);
        if (rc < 0 && errno != EINTR) {
            fail(c, g_strdup_printf("poll: %s", g_strerror(errno)));
            ok = false;
            break;
        }
        for (size_t i = 0; ok && i < c->k; i++)
            if (pfd[i].revents)
                ok = read_worker(c, i);
        if (ok && all_in(c, W_BOUND)) {
            ok = send_start(c);
            *start_wall = g_get_monotonic_time() + START_DELAY_US;
            if (ok && c->opts->started) {
                pid_t *pids = g_new(pid_t, c->k);
                for (size_t i = 0; i < c->k; i++)
                    pids[i] = c->w[i].pid;
                c->opts->started(c->opts->started_user, pids, c->k);
                g_free(pids);
            }
        }
        if (ok && *start_wall && c->opts->progress) {
            int64_t now = g_get_monotonic_time() - *start_wall;
            int64_t end = c->sc->cluster.duration_us;
            c->opts->progress(c->opts->progress_user,
                              CLAMP(now, 0, end), end, 0, 0);
        }
    }
    g_free(pfd);
    return ok;
}

static bool fork_workers(coord *c)
{
    size_t n = c->sc->cluster.nodes;
    pid_t parent = getpid();
    for (size_t i = 0; i < c->k; i++) {
        worker *w = &c->w[i];
        w->first = n * i / c->k;
        w->last = n * (i + 1) / c->k;
        w->db_path = g_strdup_printf("%s/worker-%zu.db", c->dir, i);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            fail(c, g_strdup_printf("socketpair: %s", g_strerror(errno)));
            return false;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            fail(c, g_strdup_printf("starting worker %zu: %s", i,
                                    g_strerror(errno)));
            close(sv[0]);
            close(sv[1]);
            return false;
        }
        if (pid == 0) {
            /* No orphans: a worker dies with its coordinator. The
             * coordinator may have died before prctl(): then it is not
             * ours, and there is nobody to run for. */
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
                getppid() != parent)
                _exit(1);
            close(sv[0]);
            for (size_t j = 0; j < i; j++)
                close_fd(&c->w[j]);
            worker_main(c->sc, c->opts, c->k, i, sv[1], w->db_path);
        }
        close(sv[1]);
        w->pid = pid;
        w->fd = sv[0];
        w->state = W_STARTING;
    }
    return true;
}

static void remove_files(coord *c)
{
    for (size_t i = 0; i < c->k; i++)
        if (c->w[i].db_path)
            ana_db_remove(c->w[i].db_path);
    if (c->dir)
        g_rmdir(c->dir);
}

void run_testbed_result_clear(run_testbed_result *r)
{
    g_clear_pointer(&r->worker_late_us, g_free);
}

gboolean run_testbed_workers(const scn_scenario *sc,
                             const run_testbed_options *opts, size_t workers,
                             run_testbed_result *out, GError **error)
{
    memset(out, 0, sizeof *out);
    g_return_val_if_fail(workers >= 2 && opts->capture_path == NULL, FALSE);
    if (workers > sc->cluster.nodes) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%zu workers for %u nodes: at most one worker per node",
                    workers, sc->cluster.nodes);
        return FALSE;
    }
    coord c = {.sc = sc, .opts = opts, .k = workers};
    GError *local = NULL;
    c.dir = g_dir_make_tmp("peko-testbed-XXXXXX", &local);
    if (c.dir == NULL) {
        g_propagate_prefixed_error(error, local, "a directory for the"
                                                 " workers' recordings: ");
        return FALSE;
    }
    c.w = g_new0(worker, workers);
    for (size_t i = 0; i < workers; i++) {
        c.w[i].fd = -1;
        c.w[i].in = g_string_new(NULL);
    }
    int64_t start_wall = 0;
    bool ok = fork_workers(&c) && supervise(&c, &start_wall);
    if (!ok) {
        /* The others stop (their stop flag), then are waited for. */
        signal_all(&c, SIGTERM);
    }
    for (size_t i = 0; i < workers; i++) {
        close_fd(&c.w[i]);
        reap(&c, i, false);
    }

    gboolean result = FALSE;
    if (ok) {
        ana_combine_source *src = g_new(ana_combine_source, workers);
        for (size_t i = 0; i < workers; i++)
            src[i] = (ana_combine_source){.path = c.w[i].db_path};
        ana_combine_stats st;
        result = ana_combine(opts->db_path, src, workers, &st, error);
        g_free(src);
        if (result) {
            out->run_id = st.run_id;
            out->complete = true;
            out->nodes = sc->cluster.nodes;
            out->workers = workers;
            out->worker_late_us = g_new(int64_t, workers);
            out->port_first = G_MAXUINT16;
            for (size_t i = 0; i < workers; i++) {
                const worker *w = &c.w[i];
                out->complete &= w->complete;
                out->run_time_us = MAX(out->run_time_us, w->run_us);
                out->late_max_us = MAX(out->late_max_us, w->late_us);
                out->worker_late_us[i] = w->late_us;
                out->deliveries += w->deliveries;
                out->delayed += w->delayed;
                out->cpu_s += w->cpu_s;
                out->peak_rss_kib = MAX(out->peak_rss_kib, w->rss_kib);
                for (size_t j = 0; j < w->last - w->first; j++) {
                    out->port_first = MIN(out->port_first, w->ports[j]);
                    out->port_last = MAX(out->port_last, w->ports[j]);
                }
            }
            out->wall_s = (double)out->run_time_us / 1e6;
        }
    } else {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "%s; the run is not recorded",
                    c.failure ? c.failure : "a worker failed");
    }
    remove_files(&c);
    for (size_t i = 0; i < workers; i++) {
        g_string_free(c.w[i].in, TRUE);
        g_free(c.w[i].ports);
        g_free(c.w[i].db_path);
    }
    g_free(c.w);
    g_free(c.failure);
    g_free(c.dir);
    return result;
}
