/* source.c: how the transport sits on a GLib main loop.
 *
 * Timers: one GSource per timer whose deadline is its ready time on the
 * monotonic clock. GLib wakes the loop at that microsecond (not rounded
 * to milliseconds), and re-arming is one call, with no new source.
 *
 * File descriptors: one GSource per transport, the poller, watching one
 * epoll descriptor; every socket of the transport (its UDP socket, or its
 * listener and connections) is a watch registered with that epoll set.
 * GLib's own loop costs O(number of sources) per iteration and per source
 * added or removed, which a node with hundreds of connections, or a
 * process with thousands, cannot afford; epoll costs O(1) per change and
 * O(ready descriptors) per wakeup. The poll is level-triggered: a watch
 * whose callback left input unread is reported again on the next
 * wakeup, after every other ready source of the loop has had its turn.
 * A dispatch handles at most TP_POLL_EVENTS ready descriptors.
 *
 * A watch freed while its poller dispatches (a callback closing another
 * connection) is unregistered at once and released after the dispatch,
 * so an event already fetched for it is skipped, never delivered.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "transport-private.h"

/* Ready descriptors handled per dispatch of a poller. */
#define TP_POLL_EVENTS 256

/* ------------------------------------------------------------------ */
/* Timers.                                                              */

struct tp_source {
    GSource base;
    tp_timer_cb cb;
    void *user;
    int tfd;           /* precise timers: a timerfd; -1 otherwise */
    int64_t deadline;  /* precise timers: armed deadline, or -1 */
};

static gboolean timer_dispatch(GSource *base, GSourceFunc unused,
                               gpointer data)
{
    tp_source *s = (tp_source *)base;
    /* One shot: disarm before the callback, which may re-arm. */
    g_source_set_ready_time(base, -1);
    s->cb(s->user);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {
    .dispatch = timer_dispatch,
};

/* Precise timers. GLib polls with a timeout in whole milliseconds,
 * rounded up, so a ready time fires about a millisecond late on average
 * (GLib 2.74 on Linux). That is noise for the engine's cycles, but not
 * for the delay queue, whose whole point is microsecond latencies: its
 * timer is a timerfd on CLOCK_MONOTONIC (g_get_monotonic_time()'s
 * clock), armed at the absolute deadline, which wakes the poll at that
 * microsecond, give or take the timer slack. */
static gboolean precise_dispatch(GSource *base, GSourceFunc unused,
                                 gpointer data)
{
    tp_source *s = (tp_source *)base;
    uint64_t expirations;
    while (read(s->tfd, &expirations, sizeof expirations) < 0 &&
           errno == EINTR)
        ;
    if (s->deadline < 0 || g_get_monotonic_time() < s->deadline)
        return G_SOURCE_CONTINUE; /* re-armed or cancelled meanwhile */
    s->deadline = -1;
    s->cb(s->user);
    return G_SOURCE_CONTINUE;
}

static void precise_finalize(GSource *base)
{
    tp_source *s = (tp_source *)base;
    if (s->tfd >= 0)
        close(s->tfd);
}

static GSourceFuncs precise_funcs = {
    .dispatch = precise_dispatch,
    .finalize = precise_finalize,
};

tp_source *tp_timer_source_new(GMainContext *context, tp_timer_cb cb,
                               void *user)
{
    tp_source *s = (tp_source *)g_source_new(&timer_funcs, sizeof *s);
    s->cb = cb;
    s->user = user;
    s->tfd = -1;
    s->deadline = -1;
    g_source_set_ready_time(&s->base, -1);
    g_source_set_name(&s->base, "peko-transport-timer");
    g_source_attach(&s->base, context);
    return s;
}

tp_source *tp_precise_timer_new(GMainContext *context, tp_timer_cb cb,
                                void *user)
{
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        return tp_timer_source_new(context, cb, user);
    tp_source *s = (tp_source *)g_source_new(&precise_funcs, sizeof *s);
    s->cb = cb;
    s->user = user;
    s->tfd = tfd;
    s->deadline = -1;
    g_source_add_unix_fd(&s->base, tfd, G_IO_IN);
    g_source_set_name(&s->base, "peko-transport-precise-timer");
    g_source_attach(&s->base, context);
    return s;
}

void tp_timer_source_arm(tp_source *s, int64_t deadline_us)
{
    if (s->tfd < 0) {
        g_source_set_ready_time(&s->base, deadline_us);
        return;
    }
    if (deadline_us == s->deadline)
        return; /* the common case while messages wait: no system call */
    s->deadline = deadline_us;
    struct itimerspec its = {0};
    if (deadline_us >= 0) {
        /* 0 would disarm: an overdue deadline fires in a nanosecond. */
        its.it_value.tv_sec = deadline_us / G_USEC_PER_SEC;
        its.it_value.tv_nsec = (deadline_us % G_USEC_PER_SEC) * 1000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int64_t tp_timer_source_deadline(tp_source *s)
{
    if (s->tfd >= 0)
        return s->deadline;
    return g_source_get_ready_time(&s->base);
}

void tp_source_free(tp_source *s)
{
    if (s == NULL)
        return;
    g_source_destroy(&s->base);
    g_source_unref(&s->base);
}

/* ------------------------------------------------------------------ */
/* The poller.                                                          */

struct tp_watch {
    tp_poller *poller;
    int fd;
    uint32_t events;  /* as registered with epoll */
    tp_fd_cb cb;
    void *user;
    GList wake_link;  /* in poller->woken while woken */
    bool woken;
    bool dead;        /* freed during a dispatch; released after it */
};

struct tp_poller {
    GSource base;
    int epfd;
    gpointer epfd_tag; /* the epoll descriptor in the source; NULL while
                        * paused */
    GQueue woken;      /* of tp_watch*, via wake_link */
    GPtrArray *dead;   /* watches freed during the dispatch */
    bool dispatching;
};

static uint32_t to_epoll(GIOCondition events)
{
    uint32_t e = 0;
    if (events & G_IO_IN)
        e |= EPOLLIN;
    if (events & G_IO_OUT)
        e |= EPOLLOUT;
    return e; /* EPOLLERR and EPOLLHUP are always reported */
}

static GIOCondition from_epoll(uint32_t e)
{
    GIOCondition c = 0;
    if (e & (EPOLLIN | EPOLLRDHUP))
        c |= G_IO_IN;
    if (e & EPOLLOUT)
        c |= G_IO_OUT;
    if (e & EPOLLERR)
        c |= G_IO_ERR;
    if (e & EPOLLHUP)
        c |= G_IO_HUP;
    return c;
}

static gboolean poller_dispatch(GSource *base, GSourceFunc unused,
                                gpointer data)
{
    tp_poller *p = (tp_poller *)base;
    g_source_set_ready_time(base, -1);
    if (p->epfd_tag == NULL)
        return G_SOURCE_CONTINUE; /* paused */
    p->dispatching = true;

    /* Watches woken for input they already hold, as many as there were
     * when the dispatch began (one woken again waits for the next). */
    guint n_woken = p->woken.length;
    for (guint i = 0; i < n_woken && p->woken.head; i++) {
        GList *link = p->woken.head;
        tp_watch *w = link->data;
        g_queue_unlink(&p->woken, link);
        w->woken = false;
        w->cb(w->user, 0);
    }

    struct epoll_event events[TP_POLL_EVENTS];
    int n;
    do
        n = epoll_wait(p->epfd, events, TP_POLL_EVENTS, 0);
    while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        tp_watch *w = events[i].data.ptr;
        if (!w->dead)
            w->cb(w->user, from_epoll(events[i].events));
    }

    p->dispatching = false;
    g_ptr_array_set_size(p->dead, 0);
    if (p->woken.length > 0)
        g_source_set_ready_time(base, 0);
    return G_SOURCE_CONTINUE;
}

static void poller_finalize(GSource *base)
{
    tp_poller *p = (tp_poller *)base;
    if (p->epfd >= 0)
        close(p->epfd);
    g_ptr_array_free(p->dead, TRUE);
}

static GSourceFuncs poller_funcs = {
    .dispatch = poller_dispatch,
    .finalize = poller_finalize,
};

tp_poller *tp_poller_new(GMainContext *context, GError **error)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        int err = errno;
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_SOCKET, "epoll_create1: %s",
                    g_strerror(err));
        return NULL;
    }
    tp_poller *p = (tp_poller *)g_source_new(&poller_funcs, sizeof *p);
    p->epfd = epfd;
    g_queue_init(&p->woken);
    p->dead = g_ptr_array_new_with_free_func(g_free);
    p->epfd_tag = g_source_add_unix_fd(&p->base, epfd, G_IO_IN);
    g_source_set_ready_time(&p->base, -1);
    g_source_set_name(&p->base, "peko-transport-poller");
    g_source_attach(&p->base, context);
    return p;
}

void tp_poller_free(tp_poller *p)
{
    if (p == NULL)
        return;
    g_source_destroy(&p->base);
    g_source_unref(&p->base);
}

void tp_poller_set_paused(tp_poller *p, bool paused)
{
    if (paused == (p->epfd_tag == NULL))
        return;
    if (paused) {
        /* Out of GLib's poll set: a level-triggered descriptor with input
         * waiting would otherwise wake the loop again and again. */
        g_source_remove_unix_fd(&p->base, p->epfd_tag);
        p->epfd_tag = NULL;
        g_source_set_ready_time(&p->base, -1);
    } else {
        p->epfd_tag = g_source_add_unix_fd(&p->base, p->epfd, G_IO_IN);
        /* Watches woken before the pause still hold input. */
        if (p->woken.length > 0)
            g_source_set_ready_time(&p->base, 0);
    }
}

tp_watch *tp_watch_new(tp_poller *p, int fd, GIOCondition events,
                       tp_fd_cb cb, void *user)
{
    tp_watch *w = g_new0(tp_watch, 1);
    w->poller = p;
    w->fd = fd;
    w->cb = cb;
    w->user = user;
    w->wake_link.data = w;
    w->events = to_epoll(events);
    struct epoll_event ev = {.events = w->events, .data.ptr = w};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        g_free(w);
        return NULL;
    }
    return w;
}

void tp_watch_set_events(tp_watch *w, GIOCondition events)
{
    uint32_t e = to_epoll(events);
    if (e == w->events)
        return; /* the common case: no system call */
    struct epoll_event ev = {.events = e, .data.ptr = w};
    if (epoll_ctl(w->poller->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0)
        w->events = e;
}

void tp_watch_wake(tp_watch *w)
{
    if (w->woken || w->dead)
        return;
    w->woken = true;
    g_queue_push_tail_link(&w->poller->woken, &w->wake_link);
    if (w->poller->epfd_tag != NULL)
        g_source_set_ready_time(&w->poller->base, 0);
}

void tp_watch_free(tp_watch *w)
{
    if (w == NULL)
        return;
    tp_poller *p = w->poller;
    /* Before the descriptor is closed: epoll forgets it at once. */
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (w->woken) {
        g_queue_unlink(&p->woken, &w->wake_link);
        w->woken = false;
    }
    if (p->dispatching) {
        w->dead = true;
        g_ptr_array_add(p->dead, w);
    } else {
        g_free(w);
    }
}
