/* transport.c: the socket environment of one node (peko-transport.h).
 *
 * The engine's peko_env on a GLib main loop: now_us is the monotonic
 * clock, each engine timer is one GSource with a ready time, random_u64
 * is the transport's own xoshiro256** stream, print stamps the wall clock
 * in pekonode's format, and send goes to udp.c or tcp.c through the
 * optional fault filter.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "transport-private.h"

G_DEFINE_QUARK(peko-transport-error-quark, peko_transport_error)

void peko_transport_options_init(peko_transport_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->version = PEKO_TRANSPORT_OPTIONS_VERSION;
}

/* ------------------------------------------------------------------ */
/* The environment.                                                     */

static int64_t env_now_us(peko_env *env)
{
    (void)env;
    return g_get_monotonic_time();
}

static void on_timer(void *user);

static int env_timer_arm(peko_env *env, peko_timer timer, int64_t deadline_us)
{
    tp_transport *tp = env->user;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        return -EINVAL;
    /* 0 is "at once" to GLib; -1 would mean never. */
    int64_t deadline = deadline_us < 0 ? 0 : deadline_us;
    if (tp->paused)
        tp->paused_timers[timer] = deadline; /* armed at resume */
    else
        tp_timer_source_arm(tp->timers[timer], deadline);
    return 0;
}

static void env_timer_cancel(peko_env *env, peko_timer timer)
{
    tp_transport *tp = env->user;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        return;
    if (tp->paused)
        tp->paused_timers[timer] = -1;
    else
        tp_timer_source_arm(tp->timers[timer], -1);
}

int tp_send_now(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes)
{
    if (tp->config.protocol == PEKO_PROTOCOL_TCP)
        return tp_tcp_send(tp, to, bytes, n_bytes);
    return tp_udp_send(tp, to, bytes, n_bytes);
}

static int env_send(peko_env *env, const peko_addr *to, const uint8_t *bytes,
                    size_t n_bytes)
{
    tp_transport *tp = env->user;
    if (tp->filter) {
        switch (peko_transport_filter_check(tp->filter, &tp->local, to)) {
        case PEKO_TRANSPORT_LOST:
            tp->counters.filter_lost++;
            return 0; /* accepted, as the network accepts what it loses */
        case PEKO_TRANSPORT_PARTITIONED:
            tp->counters.filter_partitioned++;
            return 0;
        case PEKO_TRANSPORT_PASS:
            break;
        }
    }
    if (tp->delay) {
        int64_t delay_us = tp->delay(tp->delay_user, &tp->local, to, bytes,
                                     n_bytes);
        /* Over TCP a message to a destination others wait for queues
         * behind them, whatever its own delay. */
        if (delay_us > 0 || tp_delay_holds(tp, to))
            return tp_delay_push(tp, to, bytes, n_bytes, delay_us);
    }
    return tp_send_now(tp, to, bytes, n_bytes);
}

static uint64_t env_random_u64(peko_env *env)
{
    tp_transport *tp = env->user;
    return model_stream_u64(&tp->rng);
}

/* The real-time clock: the engine reads it once, to number its
 * incarnation (milliseconds, so a restarted node's is greater). */
/* The bound of options.wall_skew_us: a day, far beyond any real clock
 * error, and far from overflowing the clock's 64 bits. */
#define TP_MAX_WALL_SKEW_US (INT64_C(86400) * G_USEC_PER_SEC)

static int64_t env_wall_us(peko_env *env)
{
    const tp_transport *tp = env->user;
    return g_get_real_time() + tp->wall_skew_us;
}

int64_t peko_transport_wall_us(const peko_transport *tp)
{
    return g_get_real_time() + tp->wall_skew_us;
}

/* "2022-05-19 14:51:23", local time, as pekonode's log.Println. */
static void format_wall_clock(char buf[32])
{
    int64_t now = g_get_real_time();
    time_t secs = (time_t)(now / G_USEC_PER_SEC);
    struct tm tm;
    if (localtime_r(&secs, &tm) == NULL ||
        strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        g_strlcpy(buf, "0000-00-00 00:00:00", 32);
}

static void emit_line(tp_transport *tp, const char *line)
{
    char stamp[32];
    format_wall_clock(stamp);
    char *full = g_strconcat(stamp, " ", line, NULL);
    if (tp->print) {
        tp->print(tp->print_user, full);
    } else {
        fputs(full, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    g_free(full);
}

/* A token bucket: print_rate lines per second, a burst of as many. A
 * flood of bad packets makes one [Error] line each; the console must not
 * become the bottleneck, so lines beyond the rate are counted and one
 * summary line says how many when printing resumes. */
static void env_print(peko_env *env, const char *line)
{
    tp_transport *tp = env->user;
    if (tp->print_rate >= 0) {
        int64_t now = g_get_monotonic_time();
        double refill = (double)(now - tp->print_refill_us) / 1e6 *
                        tp->print_rate;
        tp->print_refill_us = now;
        tp->print_tokens = MIN(tp->print_tokens + refill,
                               (double)tp->print_rate);
        if (tp->print_tokens < 1) {
            tp->counters.print_suppressed++;
            tp->print_suppressed_pending++;
            return;
        }
        tp->print_tokens -= 1;
    }
    if (tp->print_suppressed_pending > 0) {
        char note[96];
        g_snprintf(note, sizeof note,
                   "[[Error]: %" G_GUINT64_FORMAT
                   " console lines suppressed (rate limit)]",
                   tp->print_suppressed_pending);
        tp->print_suppressed_pending = 0;
        emit_line(tp, note);
    }
    emit_line(tp, line);
}

static void on_timer(void *user)
{
    tp_timer_slot *slot = user;
    if (slot->tp->nl)
        peko_nodelist_on_timer(slot->tp->nl, slot->timer);
}

/* ------------------------------------------------------------------ */
/* Creation.                                                            */

GSocket *tp_socket_bind(tp_transport *tp, GSocketType type,
                        gboolean allow_reuse, GError **error)
{
    GSocketFamily family = tp->family == AF_INET6 ? G_SOCKET_FAMILY_IPV6
                                                  : G_SOCKET_FAMILY_IPV4;
    GError *local = NULL;
    GSocket *sock = g_socket_new(family, type, G_SOCKET_PROTOCOL_DEFAULT,
                                 &local);
    if (sock == NULL) {
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_SOCKET, "socket: %s",
                    local->message);
        g_error_free(local);
        return NULL;
    }
    g_socket_set_blocking(sock, FALSE);
    if (tp->family == AF_INET6) {
        /* Dual stack: an IPv6 node also reaches IPv4 peers (as
         * ::ffff:a.b.c.d), unless the system forbids it. */
        g_socket_set_option(sock, IPPROTO_IPV6, IPV6_V6ONLY, 0, NULL);
    }
    GSocketAddress *gaddr = tp_addr_to_gaddress(&tp->bind);
    gboolean ok = g_socket_bind(sock, gaddr, allow_reuse, &local);
    g_object_unref(gaddr);
    if (!ok) {
        char where[PEKO_ADDR_STRLEN];
        peko_addr_format(&tp->bind, where);
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_SOCKET, "cannot bind %s %s: %s",
                    type == G_SOCKET_TYPE_STREAM ? "TCP" : "UDP", where,
                    local->message);
        g_error_free(local);
        g_object_unref(sock);
        return NULL;
    }
    return sock;
}

/* The port actually bound (for a requested port 0). */
static bool bound_port(GSocket *sock, uint16_t *port)
{
    GSocketAddress *gaddr = g_socket_get_local_address(sock, NULL);
    if (gaddr == NULL)
        return false;
    peko_addr addr;
    bool ok = tp_addr_from_gaddress(gaddr, &addr);
    g_object_unref(gaddr);
    if (ok)
        *port = addr.port;
    return ok;
}

static bool resolve_bounds(tp_transport *tp, const peko_transport_options *o,
                           GError **error)
{
    if (o->reads_per_wakeup < 0 || o->rcvbuf_bytes < 0 || o->tcp_pool < 0 ||
        o->tcp_max_accepted < 0 || o->tcp_idle_timeout_us < 0 ||
        o->tcp_read_timeout_us < 0 || o->tcp_send_buffer < 0) {
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_INVALID,
                    "transport bounds must not be negative");
        return false;
    }
    tp->reads_per_wakeup = o->reads_per_wakeup ? o->reads_per_wakeup
                                               : TP_DEFAULT_READS_PER_WAKEUP;
    int64_t want = (int64_t)tp->config.buffer * tp->config.size;
    tp->rcvbuf_bytes = o->rcvbuf_bytes ? o->rcvbuf_bytes
                                       : (int)MIN(want, (int64_t)G_MAXINT);
    tp->tcp_pool = o->tcp_pool ? o->tcp_pool : TP_DEFAULT_TCP_POOL;
    tp->tcp_max_accepted = o->tcp_max_accepted ? o->tcp_max_accepted
                                               : TP_DEFAULT_TCP_MAX_ACCEPTED;
    tp->tcp_idle_timeout_us =
        o->tcp_idle_timeout_us ? o->tcp_idle_timeout_us
                               : TP_DEFAULT_TCP_IDLE_CYCLES * tp->config.cycle_us;
    tp->tcp_read_timeout_us =
        o->tcp_read_timeout_us
            ? o->tcp_read_timeout_us
            : MIN(TP_DEFAULT_TCP_READ_TIMEOUT_US, tp->tcp_idle_timeout_us);
    int64_t frame = (int64_t)tp->config.size + TP_FRAME_HEADER_BYTES;
    tp->tcp_send_buffer =
        o->tcp_send_buffer ? (size_t)o->tcp_send_buffer
                           : (size_t)MAX(4 * frame, TP_MIN_TCP_SEND_BUFFER);
    if (tp->tcp_send_buffer < (size_t)frame) {
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_INVALID,
                    "tcp_send_buffer (%zu bytes) must hold one message of"
                    " Size %d plus its 4-byte prefix",
                    tp->tcp_send_buffer, tp->config.size);
        return false;
    }
    if (o->version >= 3) {
        if (o->wall_skew_us < -TP_MAX_WALL_SKEW_US ||
            o->wall_skew_us > TP_MAX_WALL_SKEW_US) {
            g_set_error(error, PEKO_TRANSPORT_ERROR,
                        PEKO_TRANSPORT_ERROR_INVALID,
                        "wall_skew_us %" G_GINT64_FORMAT " is beyond +-1 day",
                        o->wall_skew_us);
            return false;
        }
        tp->wall_skew_us = o->wall_skew_us;
    }
    if (o->version >= 2) {
        if (o->delay_queue < 0 || o->delay_queue_bytes < 0) {
            g_set_error(error, PEKO_TRANSPORT_ERROR,
                        PEKO_TRANSPORT_ERROR_INVALID,
                        "delay queue bounds must not be negative");
            return false;
        }
        size_t size = (size_t)tp->config.size;
        size_t max_bytes = o->delay_queue_bytes
                               ? (size_t)o->delay_queue_bytes
                               : MAX((size_t)TP_DEFAULT_DELAY_QUEUE_BYTES,
                                     size);
        if (o->delay && max_bytes < size) {
            g_set_error(error, PEKO_TRANSPORT_ERROR,
                        PEKO_TRANSPORT_ERROR_INVALID,
                        "delay_queue_bytes (%zu bytes) must hold one"
                        " message of Size %d",
                        max_bytes, tp->config.size);
            return false;
        }
        if (o->delay)
            tp_delay_init(tp, o->delay, o->delay_user,
                          o->delay_queue ? (size_t)o->delay_queue
                                         : TP_DEFAULT_DELAY_QUEUE,
                          max_bytes);
    }
    tp->print_rate = o->print_rate < 0 ? -1
                     : o->print_rate  ? o->print_rate
                                      : TP_DEFAULT_PRINT_RATE;
    tp->print_tokens = tp->print_rate > 0 ? tp->print_rate : 0;
    tp->print_refill_us = g_get_monotonic_time();
    return true;
}

static const char *protocol_name(peko_protocol p)
{
    return p == PEKO_PROTOCOL_TCP ? "TCP" : "UDP";
}

peko_transport *peko_transport_new(const peko_transport_options *opts,
                                   GError **error)
{
    g_return_val_if_fail(opts != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    if (opts->version < 1 || opts->version > PEKO_TRANSPORT_OPTIONS_VERSION) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_INVALID,
                    "options version %d, this library speaks 1 to %d"
                    " (use peko_transport_options_init)",
                    opts->version, PEKO_TRANSPORT_OPTIONS_VERSION);
        return NULL;
    }

    /* The local address first: it decides the default listen family. */
    peko_addr local;
    const char *host = opts->local.addr ? opts->local.addr : "";
    if (peko_addr_parse(host, opts->local.port, &local) < 0) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_INVALID,
                    "local address '%s' is not a numeric IPv4 or IPv6"
                    " address",
                    host);
        return NULL;
    }

    peko_config config = {0};
    if (opts->config)
        config = *opts->config;
    if (config.listen_addr == NULL)
        config.listen_addr =
            local.family == PEKO_AF_INET6 ? "::" : PEKO_DEFAULT_LISTEN_ADDR;
    peko_config resolved;
    if (peko_config_resolve(&config, &resolved) < 0) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_INVALID,
                    "invalid configuration (a negative field, Size out of"
                    " range for %s, accepted keys without a secret key, or"
                    " more than %d keys)",
                    protocol_name(config.protocol), PEKO_MAX_KEYS);
        return NULL;
    }

    tp_transport *tp = g_new0(tp_transport, 1);
    tp->config = resolved;
    tp->config.secret_key = NULL;
    tp->config.accepted_keys = NULL;
    tp->config.accepted_key_count = 0;
    tp->config.listen_addr = NULL; /* borrowed from the caller: not kept */
    tp->local = local;
    tp->filter = opts->filter;
    tp->print = opts->print;
    tp->print_user = opts->print_user;
    tp->context = opts->context ? g_main_context_ref(opts->context)
                                : g_main_context_ref(g_main_context_default());
    g_queue_init(&tp->out_lru);
    g_queue_init(&tp->in_conns);
    model_stream_seed(&tp->rng,
                      opts->seeded ? opts->seed : tp_entropy_seed());

    if (!resolve_bounds(tp, opts, error))
        goto fail;

    if (peko_addr_parse(resolved.listen_addr, local.port, &tp->bind) < 0 ||
        strcmp(resolved.listen_addr, "") == 0) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_INVALID,
                    "listen address '%s' is not a numeric IPv4 or IPv6"
                    " address",
                    resolved.listen_addr);
        goto fail;
    }
    tp->family = tp->bind.family == PEKO_AF_INET6 ? AF_INET6 : AF_INET;
    if (tp->family == AF_INET && local.family == PEKO_AF_INET6) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_INVALID,
                    "local address '%s' is IPv6 but the listen address '%s'"
                    " is IPv4",
                    host, resolved.listen_addr);
        goto fail;
    }

    tp->env = (peko_env){
        .version = PEKO_ENV_VERSION,
        .user = tp,
        .now_us = env_now_us,
        .timer_arm = env_timer_arm,
        .timer_cancel = env_timer_cancel,
        .send = env_send,
        .random_u64 = env_random_u64,
        .print = env_print,
        .wall_us = env_wall_us,
    };
    for (int i = 0; i < PEKO_TIMER_COUNT; i++) {
        tp->timer_slots[i] = (tp_timer_slot){tp, (peko_timer)i};
        tp->timers[i] = tp_timer_source_new(tp->context, on_timer,
                                            &tp->timer_slots[i]);
    }

    tp->poller = tp_poller_new(tp->context, error);
    if (tp->poller == NULL)
        goto fail;
    bool opened = resolved.protocol == PEKO_PROTOCOL_TCP
                      ? tp_tcp_open(tp, error)
                      : tp_udp_open(tp, error);
    if (!opened)
        goto fail;
    GSocket *bound = tp->udp ? tp->udp : tp->listener;
    if (!bound_port(bound, &tp->bind.port)) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_SOCKET,
                    "cannot read back the bound port");
        goto fail;
    }
    tp->local.port = tp->bind.port;

    /* The engine, for the port actually bound. */
    char local_host[PEKO_HOST_STRLEN];
    peko_addr_host(&tp->local, local_host);
    peko_node node = opts->local;
    node.addr = local_host;
    node.port = tp->local.port;
    peko_config engine_config = config;
    int rc = peko_nodelist_new(&engine_config, &node, &tp->env, &tp->nl);
    if (rc < 0) {
        g_set_error(error, PEKO_TRANSPORT_ERROR, PEKO_TRANSPORT_ERROR_INVALID,
                    "the engine refused the configuration: %s",
                    g_strerror(-rc));
        goto fail;
    }
    if (opts->observer)
        peko_nodelist_set_observer(tp->nl, opts->observer,
                                   opts->observer_user);
    return tp;

fail:
    peko_transport_free(tp);
    return NULL;
}

void peko_transport_free(peko_transport *tp)
{
    if (tp == NULL)
        return;
    /* The engine first: freeing it cancels its timers through the env. */
    peko_nodelist_free(tp->nl);
    tp->nl = NULL;
    tp_delay_clear(tp);
    tp_udp_close(tp);
    tp_tcp_close(tp);
    tp_poller_free(tp->poller);
    for (int i = 0; i < PEKO_TIMER_COUNT; i++)
        tp_source_free(tp->timers[i]);
    g_main_context_unref(tp->context);
    g_free(tp);
}

peko_nodelist *peko_transport_nodelist(peko_transport *tp)
{
    g_return_val_if_fail(tp != NULL, NULL);
    return tp->nl;
}

const peko_addr *peko_transport_local_addr(const peko_transport *tp)
{
    g_return_val_if_fail(tp != NULL, NULL);
    return &tp->local;
}

int peko_transport_pause(peko_transport *tp)
{
    g_return_val_if_fail(tp != NULL, -EINVAL);
    if (tp->paused)
        return -EALREADY;
    tp->paused = true;
    tp->paused_at_us = g_get_monotonic_time();
    for (int i = 0; i < PEKO_TIMER_COUNT; i++) {
        tp->paused_timers[i] = tp_timer_source_deadline(tp->timers[i]);
        tp_timer_source_arm(tp->timers[i], -1);
    }
    tp->paused_sweep_us = -1;
    if (tp->sweep) {
        tp->paused_sweep_us = tp_timer_source_deadline(tp->sweep);
        tp_timer_source_arm(tp->sweep, -1);
    }
    tp_poller_set_paused(tp->poller, true);
    return 0;
}

int peko_transport_resume(peko_transport *tp)
{
    g_return_val_if_fail(tp != NULL, -EINVAL);
    if (!tp->paused)
        return -EALREADY;
    tp->paused = false;
    int64_t paused_us = g_get_monotonic_time() - tp->paused_at_us;
    tp_tcp_shift_clock(tp, paused_us);
    /* Overdue deadlines are in the past: GLib fires them at once. */
    for (int i = 0; i < PEKO_TIMER_COUNT; i++)
        tp_timer_source_arm(tp->timers[i], tp->paused_timers[i]);
    if (tp->sweep && tp->paused_sweep_us >= 0)
        tp_timer_source_arm(tp->sweep, tp->paused_sweep_us + paused_us);
    tp_poller_set_paused(tp->poller, false);
    return 0;
}

bool peko_transport_is_paused(const peko_transport *tp)
{
    g_return_val_if_fail(tp != NULL, false);
    return tp->paused;
}

peko_env *peko_transport_env(peko_transport *tp)
{
    g_return_val_if_fail(tp != NULL, NULL);
    return &tp->env;
}

void peko_transport_stats(const peko_transport *tp,
                          peko_transport_counters *out)
{
    g_return_if_fail(tp != NULL && out != NULL);
    *out = tp->counters;
    out->tcp_open_out = g_queue_get_length((GQueue *)&tp->out_lru);
    out->tcp_open_in = g_queue_get_length((GQueue *)&tp->in_conns);
}
