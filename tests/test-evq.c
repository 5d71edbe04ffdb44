/* test-evq.c: the simulator's event queue (sim/evq.h). */
#include <criterion/criterion.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "evq.h"
#include "model.h"

static sim_evq q;

static void setup(void)
{
    sim_evq_init(&q, 0, 0);
}

static void teardown(void)
{
    sim_evq_clear(&q);
}

TestSuite(evq, .init = setup, .fini = teardown, .timeout = 60);

static sim_evq_handle push_node(int64_t time_us, uint32_t node)
{
    sim_payload p = {.kind = 7, .node = node};
    return sim_evq_push(&q, time_us, &p);
}

Test(evq, empty_queue_pops_nothing)
{
    sim_event ev;
    int64_t t;
    cr_assert_eq(sim_evq_size(&q), 0);
    cr_assert_not(sim_evq_pop(&q, &ev));
    cr_assert_not(sim_evq_peek_time(&q, &t));
}

Test(evq, payload_round_trips)
{
    int anchor;
    sim_payload p = {.kind = 513, .node = 4000000000u, .arg = 77,
                     .u64 = UINT64_MAX - 3, .ptr = &anchor};
    cr_assert_neq(sim_evq_push(&q, 42, &p), SIM_EVQ_NONE);
    sim_event ev;
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.time_us, 42);
    cr_assert_eq(ev.p.kind, 513);
    cr_assert_eq(ev.p.node, 4000000000u);
    cr_assert_eq(ev.p.arg, 77);
    cr_assert_eq(ev.p.u64, UINT64_MAX - 3);
    cr_assert_eq(ev.p.ptr, &anchor);
    cr_assert_null(ev.p.packet);
}

Test(evq, equal_times_pop_in_insertion_order)
{
    for (uint32_t i = 0; i < 5000; i++)
        push_node(1000, i);
    sim_event ev;
    for (uint32_t i = 0; i < 5000; i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.p.node, i, "pop %u gave node %u", i, ev.p.node);
    }
    cr_assert_not(sim_evq_pop(&q, &ev));
}

Test(evq, orders_by_time_then_insertion)
{
    /* Many events on few distinct times, pushed in a scrambled order:
     * node numbers record the push order. */
    model_stream rng;
    model_stream_init(&rng, 1, 0);
    enum { N = 20000 };
    for (uint32_t i = 0; i < N; i++)
        push_node((int64_t)model_stream_below(&rng, 16) * 1000, i);
    cr_assert_eq(sim_evq_size(&q), N);

    sim_event ev, prev = {0};
    for (uint32_t i = 0; i < N; i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        if (i > 0) {
            cr_assert_geq(ev.time_us, prev.time_us);
            if (ev.time_us == prev.time_us) {
                cr_assert_gt(ev.p.node, prev.p.node);
                cr_assert_gt(ev.seq, prev.seq);
            }
        }
        prev = ev;
    }
    cr_assert_eq(sim_evq_size(&q), 0);
}

Test(evq, negative_and_extreme_times_order)
{
    int64_t times[] = {INT64_MAX, 0, -1, INT64_MIN, 1, -1000000, 1000000,
                       INT64_MIN + 1, INT64_MAX - 1};
    for (uint32_t i = 0; i < G_N_ELEMENTS(times); i++)
        push_node(times[i], i);
    int64_t sorted[G_N_ELEMENTS(times)];
    memcpy(sorted, times, sizeof times);
    for (size_t i = 1; i < G_N_ELEMENTS(sorted); i++)
        for (size_t j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
            int64_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    sim_event ev;
    for (size_t i = 0; i < G_N_ELEMENTS(sorted); i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.time_us, sorted[i]);
    }
}

Test(evq, peek_time_reports_the_earliest)
{
    push_node(300, 0);
    push_node(100, 1);
    push_node(200, 2);
    int64_t t;
    cr_assert(sim_evq_peek_time(&q, &t));
    cr_assert_eq(t, 100);
    cr_assert_eq(sim_evq_size(&q), 3);
}

Test(evq, peek_node_reports_the_earliest_live_event)
{
    uint32_t node;
    cr_assert_not(sim_evq_peek_node(&q, &node));
    sim_evq_handle h = push_node(5, 50);
    push_node(9, 90);
    sim_payload p = {.kind = 7, .node = 70};
    sim_evq_push_ordered(&q, 7, &p);
    cr_assert(sim_evq_peek_node(&q, &node));
    cr_assert_eq(node, 50);
    cr_assert(sim_evq_cancel(&q, h));
    cr_assert(sim_evq_peek_node(&q, &node));
    cr_assert_eq(node, 70, "from the ring, ahead of the heap's 9");
    cr_assert_eq(sim_evq_size(&q), 2);
}

Test(evq, cancel_removes_exactly_that_event)
{
    sim_evq_handle h[10];
    for (uint32_t i = 0; i < 10; i++)
        h[i] = push_node(100 + i, i);
    cr_assert(sim_evq_cancel(&q, h[0]));
    cr_assert(sim_evq_cancel(&q, h[5]));
    cr_assert(sim_evq_cancel(&q, h[9]));
    cr_assert_eq(sim_evq_size(&q), 7);

    int64_t t;
    cr_assert(sim_evq_peek_time(&q, &t));
    cr_assert_eq(t, 101, "peek skips the cancelled top");

    sim_event ev;
    uint32_t expect[] = {1, 2, 3, 4, 6, 7, 8};
    for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.p.node, expect[i]);
    }
    cr_assert_not(sim_evq_pop(&q, &ev));
    cr_assert_eq(sim_evq_size(&q), 0);
}

Test(evq, cancel_is_idempotent_and_stale_handles_are_harmless)
{
    sim_evq_handle a = push_node(10, 1);
    cr_assert(sim_evq_cancel(&q, a));
    cr_assert_not(sim_evq_cancel(&q, a), "second cancel");
    cr_assert_not(sim_evq_cancel(&q, SIM_EVQ_NONE));
    cr_assert_not(sim_evq_cancel(&q, ((uint64_t)1 << 32) | 123456));

    sim_evq_handle b = push_node(20, 2);
    sim_event ev;
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.p.node, 2);
    cr_assert_not(sim_evq_cancel(&q, b), "cancel after pop");

    /* b's record is reused by the next push: the old handle must not
     * reach the new event. */
    sim_evq_handle c = push_node(30, 3);
    cr_assert_neq(b, c);
    cr_assert_not(sim_evq_cancel(&q, b));
    cr_assert_not(sim_evq_cancel(&q, a));
    cr_assert_eq(sim_evq_size(&q), 1);
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.p.node, 3);
}

Test(evq, cancelled_majority_is_compacted)
{
    enum { N = 10000 };
    static sim_evq_handle h[N];
    for (uint32_t i = 0; i < N; i++)
        h[i] = push_node(N - i, i);
    /* Cancel all but every tenth: dead keys come to outnumber live ones. */
    for (uint32_t i = 0; i < N; i++)
        if (i % 10)
            cr_assert(sim_evq_cancel(&q, h[i]));
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_geq(st.compactions, 1);
    cr_assert_leq(st.cancelled, st.live + 1024,
                  "cancelled %zu live %zu", st.cancelled, st.live);
    cr_assert_eq(sim_evq_size(&q), N / 10);

    sim_event ev;
    int64_t last = INT64_MIN;
    for (uint32_t i = 0; i < N / 10; i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.p.node % 10, 0);
        cr_assert_gt(ev.time_us, last);
        last = ev.time_us;
    }
    cr_assert_not(sim_evq_pop(&q, &ev));
}

Test(evq, pool_is_reused_in_steady_state)
{
    model_stream rng;
    model_stream_init(&rng, 7, 0);
    enum { PENDING = 5000 };
    /* Odd nodes carry a packet whose size depends only on the node, so
     * the packets in flight per size class are constant. */
    for (uint32_t i = 0; i < PENDING; i++) {
        sim_payload p = {.node = i};
        if (i % 2)
            p.packet = sim_evq_packet_new(&q, 1 + (i * 37) % 1400);
        sim_evq_push(&q, (int64_t)model_stream_below(&rng, 1000), &p);
    }
    sim_event ev;
    sim_evq_stats before, after;
    /* One hold round so every size class has met its high-water mark. */
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            sim_evq_stats_get(&q, &before);
        for (uint32_t i = 0; i < 200000; i++) {
            cr_assert(sim_evq_pop(&q, &ev));
            sim_evq_packet_free(&q, ev.p.packet);
            sim_payload p = {.node = ev.p.node};
            if (ev.p.node % 2)
                p.packet = sim_evq_packet_new(&q, 1 + (ev.p.node * 37) % 1400);
            sim_evq_push(&q,
                         ev.time_us + (int64_t)model_stream_below(&rng, 1000),
                         &p);
        }
    }
    sim_evq_stats_get(&q, &after);
    cr_assert_eq(after.heap_cap, before.heap_cap);
    cr_assert_eq(after.records_cap, before.records_cap);
    cr_assert_eq(after.bytes, before.bytes, "memory %zu -> %zu",
                 before.bytes, after.bytes);
    cr_assert_eq(after.live, PENDING);
    cr_assert_eq(after.packets_out, PENDING / 2);
}

Test(evq, queue_refuses_beyond_its_bound)
{
    sim_evq_clear(&q);
    sim_evq_init(&q, 0, 100);
    sim_evq_handle h[100];
    for (uint32_t i = 0; i < 100; i++) {
        h[i] = push_node(i, i);
        cr_assert_neq(h[i], SIM_EVQ_NONE);
    }
    sim_payload p = {.packet = sim_evq_packet_new(&q, 10)};
    cr_assert_eq(sim_evq_push(&q, 5, &p), SIM_EVQ_NONE);
    /* Refused: the packet is still ours. */
    sim_evq_packet_free(&q, p.packet);
    cr_assert_eq(sim_evq_size(&q), 100);

    /* A cancelled event's slot is reclaimed when room is needed. */
    cr_assert(sim_evq_cancel(&q, h[50]));
    cr_assert_neq(push_node(1000, 1000), SIM_EVQ_NONE);
    cr_assert_eq(push_node(1001, 1001), SIM_EVQ_NONE);

    sim_event ev;
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_neq(push_node(1002, 1002), SIM_EVQ_NONE);
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_leq(st.heap_cap, 100);
    cr_assert_leq(st.records_cap, 100);
}

Test(evq, sequence_renumbering_keeps_order)
{
    /* Straddle the point where the 40-bit sequence would wrap. */
    sim_evq__set_next_seq(&q, ((uint64_t)1 << 40) - 50);
    for (uint32_t i = 0; i < 100; i++)
        push_node(i % 3, i);
    sim_event ev;
    uint32_t last[3] = {0};
    bool seen[3] = {false};
    int64_t last_time = INT64_MIN;
    for (uint32_t i = 0; i < 100; i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_geq(ev.time_us, last_time);
        last_time = ev.time_us;
        int64_t t = ev.time_us;
        if (seen[t])
            cr_assert_gt(ev.p.node, last[t]);
        seen[t] = true;
        last[t] = ev.p.node;
    }
}

Test(evq, packets_follow_their_events)
{
    sim_payload p = {.kind = 1};
    p.packet = sim_evq_packet_new(&q, 5);
    memcpy(p.packet->bytes, "hello", 5);
    sim_evq_push(&q, 2, &p);

    p.packet = sim_evq_packet_new(&q, 100000); /* beyond the pooled sizes */
    memset(p.packet->bytes, 0xab, 100000);
    sim_evq_handle big = sim_evq_push(&q, 1, &p);

    p.packet = sim_evq_packet_new(&q, 1500);
    sim_evq_handle mid = sim_evq_push(&q, 3, &p);

    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 3);
    cr_assert(sim_evq_cancel(&q, mid));
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 2, "cancel frees the packet");

    sim_event ev;
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.p.kind, 1);
    cr_assert_eq(ev.time_us, 1);
    cr_assert_not_null(ev.p.packet);
    cr_assert_null(ev.p.ptr);
    cr_assert_eq(ev.p.packet->n_bytes, 100000);
    cr_assert_eq(ev.p.packet->bytes[99999], 0xab);
    sim_evq_packet_free(&q, ev.p.packet);
    (void)big;

    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.p.packet->n_bytes, 5);
    cr_assert_eq(memcmp(ev.p.packet->bytes, "hello", 5), 0);
    sim_packet *first = ev.p.packet;
    sim_evq_packet_free(&q, first);

    /* The same size class comes back from the pool. */
    sim_packet *again = sim_evq_packet_new(&q, 40);
    cr_assert_eq(again, first);
    sim_evq_packet_free(&q, again);
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 0);
}

Test(evq, a_packet_gets_the_smallest_class_that_holds_it)
{
    /* Every size up to the largest class: room for the bytes, at most a
     * quarter more than bytes and header (or 64 bytes in all), and the
     * whole capacity writable (AddressSanitizer checks the poisoning). */
    size_t header = sizeof(sim_packet);
    size_t last = 0;
    for (size_t n = 0; n + header <= 57344; n++) {
        sim_packet *pkt = sim_evq_packet_new(&q, n);
        size_t cap = sim_evq_packet_capacity(pkt);
        cr_assert_geq(cap, n, "%zu bytes in %zu", n, cap);
        size_t total = cap + header;
        cr_assert(total <= 64 || 4 * total <= 5 * (n + header),
                  "%zu bytes in a buffer of %zu", n, total);
        cr_assert_eq(total % 16, 0);
        cr_assert_geq(total, last, "classes grow with the size");
        cr_assert_geq(sim_evq_packet_footprint(n), total);
        last = total;
        memset(pkt->bytes, 0x5a, cap);
        sim_evq_packet_free(&q, pkt);
    }
    cr_assert_eq(last, 57344, "the largest class is 56 KiB");
    /* Beyond it, an allocation of the packet's own size. */
    sim_packet *big = sim_evq_packet_new(&q, 57344);
    cr_assert_eq(sim_evq_packet_capacity(big), 57344);
    cr_assert_eq(sim_evq_packet_footprint(57344), 57344 + header);
    sim_evq_packet_free(&q, big);
}

Test(evq, the_latest_freed_buffer_is_taken_first)
{
    sim_packet *a = sim_evq_packet_new(&q, 150);
    sim_packet *b = sim_evq_packet_new(&q, 150);
    sim_packet *keep = sim_evq_packet_new(&q, 150);
    sim_evq_packet_free(&q, a);
    sim_evq_packet_free(&q, b);
    /* b was freed last, so it is the one still in cache. */
    cr_assert_eq(sim_evq_packet_new(&q, 140), b);
    cr_assert_eq(sim_evq_packet_new(&q, 150), a);
    sim_evq_packet_free(&q, a);
    sim_evq_packet_free(&q, b);
    sim_evq_packet_free(&q, keep);
}

/* Takes n buffers of n_bytes into out[], each filled with its own mark. */
static void take_marked(sim_packet **out, size_t n, size_t n_bytes,
                        uint8_t mark)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = sim_evq_packet_new(&q, n_bytes);
        memset(out[i]->bytes, mark + (uint8_t)i, n_bytes);
    }
}

static void give_checked(sim_packet **pkts, size_t n, size_t n_bytes,
                         uint8_t mark)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < n_bytes; k++)
            cr_assert_eq(pkts[i]->bytes[k], (uint8_t)(mark + i),
                         "buffer %zu overwritten", i);
        sim_evq_packet_free(&q, pkts[i]);
    }
}

Test(evq, pages_freed_by_one_class_serve_another)
{
    /* A rumor's packets grow as it spreads: the buffers of one size all
     * come back, then as many of the next size are taken. The memory
     * held must not grow by the second size's share. */
    enum { N = 20000 };
    sim_packet **pkts = g_new(sim_packet *, N);
    sim_evq_stats first, second;
    take_marked(pkts, N, 140, 1);
    sim_evq_stats_get(&q, &first);
    give_checked(pkts, N, 140, 1);
    take_marked(pkts, N, 170, 2); /* the next class: 192 bytes, not 160 */
    cr_assert_eq(sim_evq_packet_capacity(pkts[0]) + sizeof(sim_packet), 192);
    sim_evq_stats_get(&q, &second);
    /* 20,000 buffers of 192 bytes need a fifth more pages than 20,000 of
     * 160: what was held for the first is used again, and only that
     * fifth is added. */
    size_t added = second.bytes - first.bytes;
    cr_assert_leq(added, first.bytes / 4, "%zu bytes held, then %zu",
                  first.bytes, second.bytes);
    give_checked(pkts, N, 170, 2);
    g_free(pkts);
}

Test(evq, random_sizes_never_share_a_byte)
{
    /* Buffers of every class taken and given back in random order: each
     * keeps its own bytes while out, and once all are back the pages
     * held are all free ones (nothing counted out, nothing leaked). */
    enum { SLOTS = 3000, STEPS = 200000 };
    sim_packet **slot = g_new0(sim_packet *, SLOTS);
    size_t *len = g_new0(size_t, SLOTS);
    model_stream rng;
    model_stream_init(&rng, 11, 0);
    for (uint32_t step = 0; step < STEPS; step++) {
        size_t i = (size_t)model_stream_below(&rng, SLOTS);
        if (slot[i] != NULL) {
            for (size_t k = 0; k < len[i]; k++)
                cr_assert_eq(slot[i]->bytes[k], (uint8_t)i,
                             "slot %zu overwritten", i);
            sim_evq_packet_free(&q, slot[i]);
            slot[i] = NULL;
            continue;
        }
        /* Mostly small, sometimes up to the largest class and beyond. */
        size_t n = model_stream_below(&rng, 8)
                       ? model_stream_below(&rng, 400)
                       : model_stream_below(&rng, 60000);
        slot[i] = sim_evq_packet_new(&q, n);
        len[i] = n;
        memset(slot[i]->bytes, (int)(uint8_t)i, n);
    }
    for (size_t i = 0; i < SLOTS; i++)
        sim_evq_packet_free(&q, slot[i]);
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 0);
    cr_assert_eq(st.packets_pooled, 0, "every page back on the free list");
    g_free(slot);
    g_free(len);
}

Test(evq, amending_folds_copies_into_the_last_push_only)
{
    sim_payload p = {.kind = 1, .node = 7};
    sim_packet *pkt = sim_evq_packet_new(&q, 10);
    p.packet = pkt;
    sim_evq_handle h = sim_evq_push_ordered(&q, 5, &p);

    /* Two more holders of its packet join it. */
    cr_assert(sim_evq_amend_last(&q, h, sim_evq_packet_share(&q, pkt), 2,
                                 42));
    cr_assert(sim_evq_amend_last(&q, h, sim_evq_packet_share(&q, pkt), 2,
                                 43));
    /* Another packet, or any push since, and it folds nothing. */
    sim_packet *other = sim_evq_packet_new(&q, 10);
    cr_assert_not(sim_evq_amend_last(&q, h, other, 2, 44));
    sim_payload timer = {.kind = 3};
    sim_evq_push(&q, 9, &timer);
    cr_assert_not(sim_evq_amend_last(&q, h, sim_evq_packet_share(&q, pkt),
                                     2, 45));
    sim_evq_packet_free(&q, pkt); /* the share the last call kept */
    sim_evq_packet_free(&q, other);

    sim_event ev;
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.p.kind, 2);
    cr_assert_eq(ev.p.u64, 43);
    cr_assert_eq(ev.p.node, 7);
    cr_assert_eq(ev.packet_holds, 3);
    cr_assert_eq(ev.p.packet, pkt);
    for (unsigned i = 0; i < ev.packet_holds; i++)
        sim_evq_packet_free(&q, ev.p.packet);
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 0, "every hold returned");
    /* Popped: it takes no more. */
    sim_packet *late = sim_evq_packet_new(&q, 10);
    cr_assert_not(sim_evq_amend_last(&q, h, late, 2, 46));
    sim_evq_packet_free(&q, late);
}

Test(evq, a_cancelled_or_cleared_fold_frees_every_hold)
{
    sim_payload p = {.kind = 1};
    sim_packet *pkt = sim_evq_packet_new(&q, 10);
    p.packet = pkt;
    sim_evq_handle h = sim_evq_push(&q, 5, &p);
    cr_assert(sim_evq_amend_last(&q, h, sim_evq_packet_share(&q, pkt), 2, 1));
    cr_assert(sim_evq_cancel(&q, h));
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 0);

    pkt = sim_evq_packet_new(&q, 10);
    p.packet = pkt;
    h = sim_evq_push_ordered(&q, 6, &p);
    cr_assert(sim_evq_amend_last(&q, h, sim_evq_packet_share(&q, pkt), 2, 1));
    sim_evq_clear(&q); /* asserts that no packet is left out */
    sim_evq_init(&q, 0, 0);
}

Test(evq, a_shared_packet_returns_to_its_pool_with_its_last_holder)
{
    sim_packet *pkt = sim_evq_packet_new(&q, 3);
    memcpy(pkt->bytes, "abc", 3);
    for (int64_t t = 1; t <= 3; t++) {
        sim_payload p = {.kind = 1,
                         .packet = t == 1 ? pkt : sim_evq_packet_share(&q, pkt)};
        cr_assert_eq(p.packet, pkt, "a share is the same buffer");
        sim_evq_push(&q, t, &p);
    }
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 1, "three events, one buffer");

    sim_event ev;
    for (int k = 0; k < 2; k++) {
        cr_assert(sim_evq_pop(&q, &ev));
        sim_evq_packet_free(&q, ev.p.packet);
    }
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 1, "held until its last holder frees it");
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(memcmp(ev.p.packet->bytes, "abc", 3), 0);
    sim_evq_packet_free(&q, ev.p.packet);
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 0);
    cr_assert_eq(sim_evq_packet_new(&q, 3), pkt, "back in its pool");
    sim_evq_packet_free(&q, pkt);
}

Test(evq, a_packet_refuses_more_holders_than_it_counts)
{
    sim_packet *pkt = sim_evq_packet_new(&q, 1);
    for (unsigned k = 0; k < UINT16_MAX; k++)
        cr_assert_eq(sim_evq_packet_share(&q, pkt), pkt);
    cr_assert_null(sim_evq_packet_share(&q, pkt), "the count is full");
    for (unsigned k = 0; k <= UINT16_MAX; k++)
        sim_evq_packet_free(&q, pkt);
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_eq(st.packets_out, 0);
}

Test(evq, clear_frees_pending_packets)
{
    for (uint32_t i = 0; i < 100; i++) {
        sim_payload p = {.node = i};
        p.packet = sim_evq_packet_new(&q, i * 97);
        sim_evq_push(&q, i, &p);
    }
    /* teardown clears; AddressSanitizer reports any leak. */
}

/* ------------------------------------------------------------------ */
/* Random interleavings against a simple sorted reference.             */

typedef struct ref_event {
    int64_t time_us;
    uint64_t order;   /* push order */
    uint32_t id;
    sim_evq_handle handle;
    bool alive;
} ref_event;

/* The reference: a flat array; the earliest alive event is found by a
 * linear scan on (time, push order). Slow and obviously right. */
static ssize_t ref_min(ref_event *ref, size_t n)
{
    ssize_t best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!ref[i].alive)
            continue;
        if (best < 0 || ref[i].time_us < ref[best].time_us ||
            (ref[i].time_us == ref[best].time_us &&
             ref[i].order < ref[best].order))
            best = (ssize_t)i;
    }
    return best;
}

/* Percentages of pushes, pops and cancels; the rest are peeks. Of the
 * pushes, `ordered` percent go through sim_evq_push_ordered, mostly at a
 * constant delay after "now" (in order, as the world's deliveries) and
 * now and then at a random time (out of order). */
typedef struct mix {
    unsigned push, pop, cancel, ordered;
} mix;

static void random_interleaving(uint64_t seed, size_t ops, mix m_)
{
    model_stream rng;
    model_stream_init(&rng, seed, 0);
    ref_event *ref = g_new0(ref_event, ops);
    size_t n_ref = 0, alive = 0;
    int64_t now = 0;

    for (size_t op = 0; op < ops; op++) {
        uint64_t r = model_stream_below(&rng, 100);
        if (r < m_.push || alive == 0) {
            /* Push: often at "now" exactly, to pile up equal times. */
            int64_t t = now + (model_stream_below(&rng, 3) == 0
                                   ? 0
                                   : (int64_t)model_stream_below(&rng, 50));
            uint32_t id = (uint32_t)n_ref;
            ref[n_ref] = (ref_event){.time_us = t, .order = n_ref, .id = id,
                                     .alive = true};
            bool ordered =
                m_.ordered && model_stream_below(&rng, 100) < m_.ordered;
            if (ordered && model_stream_below(&rng, 8) != 0)
                t = now + 20;
            ref[n_ref].time_us = t;
            sim_payload p = {.node = id, .u64 = (uint64_t)t};
            if (model_stream_below(&rng, 4) == 0)
                p.packet =
                    sim_evq_packet_new(&q, model_stream_below(&rng, 3000));
            ref[n_ref].handle = ordered ? sim_evq_push_ordered(&q, t, &p)
                                        : sim_evq_push(&q, t, &p);
            cr_assert_neq(ref[n_ref].handle, SIM_EVQ_NONE);
            n_ref++;
            alive++;
        } else if (r < m_.push + m_.pop) {
            ssize_t m = ref_min(ref, n_ref);
            sim_event ev;
            cr_assert(sim_evq_pop(&q, &ev));
            cr_assert_eq(ev.p.node, ref[m].id,
                         "seed %" G_GUINT64_FORMAT " op %zu: popped %u, "
                         "reference says %u", seed, op, ev.p.node, ref[m].id);
            cr_assert_eq(ev.time_us, ref[m].time_us);
            sim_evq_packet_free(&q, ev.p.packet);
            ref[m].alive = false;
            alive--;
            now = ev.time_us;
        } else if (r < m_.push + m_.pop + m_.cancel) {
            /* Cancel one of the last 1000 pushed, pending or not. */
            size_t window = MIN(n_ref, (size_t)1000);
            size_t i = n_ref - 1 - model_stream_below(&rng, window);
            bool was = ref[i].alive;
            cr_assert_eq(sim_evq_cancel(&q, ref[i].handle), was);
            if (was) {
                ref[i].alive = false;
                alive--;
            }
        } else {
            int64_t t;
            ssize_t m = ref_min(ref, n_ref);
            cr_assert_eq(sim_evq_peek_time(&q, &t), m >= 0);
            if (m >= 0)
                cr_assert_eq(t, ref[m].time_us);
        }
        cr_assert_eq(sim_evq_size(&q), alive);
    }
    /* Drain. */
    sim_event ev;
    while (alive) {
        ssize_t m = ref_min(ref, n_ref);
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.p.node, ref[m].id);
        sim_evq_packet_free(&q, ev.p.packet);
        ref[m].alive = false;
        alive--;
    }
    cr_assert_not(sim_evq_pop(&q, &ev));
    g_free(ref);
}

Test(evq, random_interleavings_match_reference)
{
    for (uint64_t seed = 1; seed <= 20; seed++)
        random_interleaving(seed, 3000, (mix){50, 35, 10});
}

Test(evq, long_interleaving_with_compaction_matches_reference)
{
    /* Cancel-heavy and long enough that dead keys outnumber live ones
     * several times over, so compaction runs mid-stream. */
    random_interleaving(12345, 40000, (mix){45, 10, 45});
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_geq(st.compactions, 1);
}

Test(evq, ordered_pushes_interleave_with_the_heap_in_order)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        random_interleaving(seed, 3000, (mix){50, 35, 10, 60});
        sim_evq_clear(&q);
        sim_evq_init(&q, 0, 0);
    }
    /* Cancel-heavy, so the ring is compacted too. */
    random_interleaving(777, 40000, (mix){45, 10, 45, 50});
    sim_evq_stats st;
    sim_evq_stats_get(&q, &st);
    cr_assert_geq(st.compactions, 1);
}

Test(evq, ordered_pushes_count_against_the_bound)
{
    sim_evq_clear(&q);
    sim_evq_init(&q, 0, 10);
    sim_payload p = {.kind = 1};
    for (uint32_t i = 0; i < 5; i++)
        cr_assert_neq(sim_evq_push_ordered(&q, i, &p), SIM_EVQ_NONE);
    for (uint32_t i = 0; i < 5; i++)
        cr_assert_neq(push_node(100 - i, i), SIM_EVQ_NONE);
    cr_assert_eq(sim_evq_push_ordered(&q, 50, &p), SIM_EVQ_NONE);
    cr_assert_eq(push_node(50, 50), SIM_EVQ_NONE);
    sim_event ev;
    for (int64_t t = 0; t < 5; t++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.time_us, t);
    }
    cr_assert_neq(sim_evq_push_ordered(&q, 50, &p), SIM_EVQ_NONE);
    cr_assert(sim_evq_pop(&q, &ev));
    cr_assert_eq(ev.time_us, 50);
}

Test(evq, renumbering_keeps_order_across_heap_and_ring)
{
    sim_evq__set_next_seq(&q, ((uint64_t)1 << 40) - 50);
    /* Equal times split between the ring and the heap: the pop order
     * must still be the push order. */
    for (uint32_t i = 0; i < 100; i++) {
        sim_payload p = {.kind = 7, .node = i};
        if (i % 3 == 0)
            sim_evq_push(&q, 5, &p);
        else
            sim_evq_push_ordered(&q, 5, &p);
    }
    sim_event ev;
    for (uint32_t i = 0; i < 100; i++) {
        cr_assert(sim_evq_pop(&q, &ev));
        cr_assert_eq(ev.p.node, i);
    }
}

Test(evq, clear_frees_packets_in_the_ring)
{
    for (uint32_t i = 0; i < 100; i++) {
        sim_payload p = {.node = i};
        p.packet = sim_evq_packet_new(&q, i * 31);
        sim_evq_push_ordered(&q, i, &p);
    }
    /* teardown clears; AddressSanitizer reports any leak. */
}
