/* delay.c: latency emulation on the sending side (peko-transport.h).
 *
 * The loopback has almost no latency, so a testbed that wants a
 * scenario's latency asks the delay hook for each message and holds the
 * message that long before it goes to the socket. Messages wait in one
 * binary min-heap per transport ordered by (deadline, arrival), bounded
 * in messages and bytes; one timer, armed at the earliest deadline,
 * sends what is due, at most TP_DELAY_PER_WAKEUP per wakeup. The timer
 * is a precise one (a timerfd, source.c): GLib's own timers fire about a
 * millisecond late, which would add a millisecond to every hop.
 *
 * Over TCP a message must not overtake an earlier one to the same
 * destination (they share a connection), so its deadline is at least the
 * last deadline waiting for that destination: delay_last keeps it, one
 * entry per destination with a message waiting, removed when that last
 * message leaves. Its size is therefore bounded by the queue's.
 *
 * The filter has already judged the message (a partition or loss applies
 * when it is sent, as in the simulator); what leaves the queue goes
 * straight to the socket. The queue keeps running while the node is
 * paused: its messages are on the wire, not in the node.
 */
#include <errno.h>
#include <string.h>

#include "transport-private.h"

typedef struct tp_delayed {
    int64_t deadline_us;
    uint64_t seq;       /* arrival order: ties leave in send order */
    peko_addr to;
    uint8_t *bytes;     /* owned */
    size_t n_bytes;
} tp_delayed;

static bool before(const tp_delayed *a, const tp_delayed *b)
{
    return a->deadline_us < b->deadline_us ||
           (a->deadline_us == b->deadline_us && a->seq < b->seq);
}

static void swap(tp_delayed *a, tp_delayed *b)
{
    tp_delayed t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(GArray *heap, size_t i)
{
    tp_delayed *h = (tp_delayed *)(void *)heap->data;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&h[i], &h[parent]))
            break;
        swap(&h[i], &h[parent]);
        i = parent;
    }
}

static void sift_down(GArray *heap, size_t i)
{
    tp_delayed *h = (tp_delayed *)(void *)heap->data;
    size_t n = heap->len;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[l], &h[m]))
            m = l;
        if (r < n && before(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        swap(&h[i], &h[m]);
        i = m;
    }
}

/* Removes and returns the earliest message (the heap is not empty). */
static tp_delayed pop(GArray *heap)
{
    tp_delayed *h = (tp_delayed *)(void *)heap->data;
    tp_delayed top = h[0];
    h[0] = h[heap->len - 1];
    g_array_set_size(heap, heap->len - 1);
    if (heap->len > 0)
        sift_down(heap, 0);
    return top;
}

static void arm(tp_transport *tp)
{
    if (tp->delay_heap->len == 0) {
        tp_timer_source_arm(tp->delay_timer, -1);
        return;
    }
    const tp_delayed *top = &g_array_index(tp->delay_heap, tp_delayed, 0);
    tp_timer_source_arm(tp->delay_timer, top->deadline_us);
}

static void on_due(void *user)
{
    tp_transport *tp = user;
    int64_t now = g_get_monotonic_time();
    for (int sent = 0; sent < TP_DELAY_PER_WAKEUP && tp->delay_heap->len > 0;
         sent++) {
        const tp_delayed *top = &g_array_index(tp->delay_heap, tp_delayed, 0);
        if (top->deadline_us > now)
            break;
        tp_delayed m = pop(tp->delay_heap);
        tp->delay_bytes -= m.n_bytes;
        tp->counters.delay_pending--;
        if (tp->delay_last) {
            gpointer last;
            if (g_hash_table_lookup_extended(tp->delay_last, &m.to, NULL,
                                             &last) &&
                *(int64_t *)last == m.deadline_us)
                g_hash_table_remove(tp->delay_last, &m.to);
        }
        /* To the engine it was sent long ago: a failure here is the
         * network's, counted by the socket code (send_errors, ...). */
        tp_send_now(tp, &m.to, m.bytes, m.n_bytes);
        g_free(m.bytes);
    }
    arm(tp);
}

void tp_delay_init(tp_transport *tp, peko_transport_delay_fn fn, void *user,
                   size_t max_messages, size_t max_bytes)
{
    tp->delay = fn;
    tp->delay_user = user;
    tp->delay_max = max_messages;
    tp->delay_max_bytes = max_bytes;
    tp->delay_heap = g_array_new(FALSE, FALSE, sizeof(tp_delayed));
    if (tp->config.protocol == PEKO_PROTOCOL_TCP)
        tp->delay_last = g_hash_table_new_full(tp_addr_hash, tp_addr_equal,
                                               g_free, g_free);
    tp->delay_timer = tp_precise_timer_new(tp->context, on_due, tp);
}

bool tp_delay_holds(tp_transport *tp, const peko_addr *to)
{
    return tp->delay_last && g_hash_table_contains(tp->delay_last, to);
}

int tp_delay_push(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                  size_t n_bytes, int64_t delay_us)
{
    if (tp->delay_heap->len >= tp->delay_max ||
        tp->delay_bytes + n_bytes > tp->delay_max_bytes) {
        tp->counters.delay_dropped++;
        return -ENOBUFS;
    }
    int64_t deadline = g_get_monotonic_time() + MAX(delay_us, 0);
    if (tp->delay_last) {
        int64_t *last = g_hash_table_lookup(tp->delay_last, to);
        if (last && *last > deadline)
            deadline = *last;
        if (last) {
            *last = deadline;
        } else {
            int64_t *v = g_new(int64_t, 1);
            *v = deadline;
            g_hash_table_insert(tp->delay_last, g_memdup2(to, sizeof *to), v);
        }
    }
    tp_delayed m = {
        .deadline_us = deadline,
        .seq = tp->delay_seq++,
        .to = *to,
        .bytes = g_memdup2(bytes, n_bytes),
        .n_bytes = n_bytes,
    };
    g_array_append_val(tp->delay_heap, m);
    sift_up(tp->delay_heap, tp->delay_heap->len - 1);
    tp->delay_bytes += n_bytes;
    tp->counters.delayed++;
    tp->counters.delay_pending++;
    arm(tp);
    return 0;
}

void tp_delay_clear(tp_transport *tp)
{
    if (tp->delay_heap) {
        for (guint i = 0; i < tp->delay_heap->len; i++)
            g_free(g_array_index(tp->delay_heap, tp_delayed, i).bytes);
        g_array_free(tp->delay_heap, TRUE);
        tp->delay_heap = NULL;
    }
    g_clear_pointer(&tp->delay_last, g_hash_table_unref);
    tp_source_free(tp->delay_timer);
    tp->delay_timer = NULL;
    tp->delay_bytes = 0;
}
