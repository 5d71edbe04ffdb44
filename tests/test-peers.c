/* test-peers.c: the peer table (engine/peers.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

/* The records every table of a test names; released() checks that a
 * freed table left none behind. */
static peko_records *records;

static void table_init(peko__peers *ps, bool ordered)
{
    if (records == NULL)
        records = peko_records_new();
    peko__peers_init(ps, ordered, records);
}

static void table_free(peko__peers *ps)
{
    peko__peers_free(ps);
    cr_assert_eq(records->n, 0, "records not released");
    peko_records_free(records);
    records = NULL;
}

static peko_addr addr_of(uint32_t i)
{
    peko_addr a;
    char host[PEKO_HOST_STRLEN];
    snprintf(host, sizeof host, "10.%u.%u.%u", (i >> 16) & 255,
             (i >> 8) & 255, i & 255);
    cr_assert_eq(peko_addr_parse(host, 7946, &a), 0);
    return a;
}

static peko__peer *find(const peko__peers *ps, const peko_addr *a)
{
    return peko__peers_find(ps, a, peko_addr_fingerprint(a));
}

static peko__peer *add(peko__peers *ps, uint32_t i)
{
    peko_addr a = addr_of(i);
    peko__peer *p = peko__peers_add(ps, &a, peko_addr_fingerprint(&a));
    p->seq = i;
    return p;
}

static uint32_t entry_of(const peko__peers *ps, const peko__peer *p)
{
    return peko__peers_entry_of(ps, p);
}

/* The bitmap, the index, the entries and the count agree: every slot in
 * use names a distinct entry below n, every entry is named by exactly
 * one slot, on its probe run (so a lookup finds it), and an ordered
 * table's buckets hold every entry once, with its fingerprint. */
static void assert_consistent(const peko__peers *ps)
{
    static uint8_t named[1u << 17];
    cr_assert_leq(ps->n, sizeof named);
    memset(named, 0, ps->n);
    uint32_t n = 0;
    for (uint32_t s = 0; s < ps->cap; s++) {
        uint32_t e = peko__peers_entry_in(ps, s);
        cr_assert_eq(peko__peers_used(ps, s), e != PEKO__ENTRY_NONE,
                     "slot %u", s);
        if (e == PEKO__ENTRY_NONE)
            continue;
        cr_assert_lt(e, ps->n, "slot %u", s);
        cr_assert_eq(named[e], 0, "entry %u named twice", e);
        named[e] = 1;
        n++;
        /* No free slot between the entry's home and its slot. */
        const peko__peer *p = peko__peers_entry(ps, e);
        uint32_t fp = peko__peer_fp(ps, p);
        cr_assert_neq(fp, 0);
        for (uint32_t i = peko__peers_home(ps, fp); i != s;
             i = (i + 1) & (ps->cap - 1))
            cr_assert(peko__peers_used(ps, i), "hole before slot %u", s);
        cr_assert_eq(peko__peers_find(ps, peko__peer_addr(ps, p), fp), p);
        cr_assert_eq(peko__peers_at(ps, s), p);
    }
    cr_assert_eq(n, ps->n);
    cr_assert_leq((uint64_t)ps->n * 4, (uint64_t)ps->cap * 3);
    if (ps->lru && ps->cap) {
        uint32_t in_buckets = 0;
        bool narrow = peko__peers_narrow(ps);
        for (uint32_t b = 0; b < ps->lru->n_buckets; b++)
            for (uint32_t e = peko__ids_get(ps->lru->bucket, b, narrow);
                 e != PEKO__ENTRY_NONE;
                 e = peko__ids_get(ps->lru->links,
                                   (size_t)e * PEKO__LINKS + PEKO__LINK_NEXT,
                                   narrow)) {
                cr_assert_lt(e, ps->n);
                cr_assert_eq(named[e], 1, "entry %u in two buckets", e);
                named[e] = 2;
                /* Its bucket is its fingerprint's. */
                uint32_t fp = peko__peer_fp(ps, peko__peers_entry(ps, e));
                cr_assert_eq(fp >> (__builtin_clz(ps->lru->n_buckets) + 1),
                             b);
                in_buckets++;
            }
        cr_assert_eq(in_buckets, ps->n);
    }
}

/* The layout the table had when its records were its slots: fingerprints
 * by slot, placed, moved back and rebuilt by the same rules. The dense
 * table's index must name the same peer in every slot, which is what
 * keeps random draws and slot order, and so every simulation, as they
 * were. */
typedef struct {
    uint32_t *slot; /* peer number + 1, 0: free */
    uint32_t cap, n;
} model_table;

static uint32_t model_fp(uint32_t i)
{
    peko_addr a = addr_of(i);
    return peko_addr_fingerprint(&a);
}

static void model_place(model_table *m, uint32_t i)
{
    uint32_t s = model_fp(i) & (m->cap - 1);
    while (m->slot[s] != 0)
        s = (s + 1) & (m->cap - 1);
    m->slot[s] = i + 1;
}

/* Rebuilds in slot order, or in `order` (n of them) if given. */
static void model_rehash(model_table *m, uint32_t cap, const uint32_t *order)
{
    uint32_t *old = m->slot, old_cap = m->cap;
    m->slot = calloc(cap, sizeof *m->slot);
    m->cap = cap;
    if (order) {
        for (uint32_t k = 0; k < m->n; k++)
            model_place(m, order[k]);
    } else {
        for (uint32_t s = 0; s < old_cap; s++)
            if (old[s])
                model_place(m, old[s] - 1);
    }
    free(old);
}

static void model_add(model_table *m, uint32_t i, const uint32_t *order)
{
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3)
        model_rehash(m, m->cap ? m->cap * 2 : 16, order);
    model_place(m, i);
    m->n++;
}

static void model_remove(model_table *m, uint32_t i)
{
    uint32_t hole = model_fp(i) & (m->cap - 1);
    while (m->slot[hole] != i + 1)
        hole = (hole + 1) & (m->cap - 1);
    for (uint32_t s = (hole + 1) & (m->cap - 1); m->slot[s] != 0;
         s = (s + 1) & (m->cap - 1)) {
        uint32_t home = model_fp(m->slot[s] - 1) & (m->cap - 1);
        bool in_range = hole <= s ? (home > hole && home <= s)
                                  : (home > hole || home <= s);
        if (!in_range) {
            m->slot[hole] = m->slot[s];
            hole = s;
        }
    }
    m->slot[hole] = 0;
    m->n--;
}

static void model_shrink(model_table *m, const uint32_t *order)
{
    uint32_t cap = m->cap;
    while (cap > 16 && (uint64_t)m->n * 8 < cap)
        cap /= 2;
    if (cap != m->cap)
        model_rehash(m, cap, order);
}

static void assert_model(const peko__peers *ps, const model_table *m)
{
    cr_assert_eq(ps->cap, m->cap);
    for (uint32_t s = 0; s < m->cap; s++) {
        cr_assert_eq(peko__peers_used(ps, s), m->slot[s] != 0, "slot %u", s);
        if (m->slot[s])
            cr_assert_eq(peko__peers_at(ps, s)->seq, m->slot[s] - 1,
                         "slot %u", s);
    }
}

Test(peers, an_entry_is_24_bytes_naming_its_record)
{
    cr_assert_eq(sizeof(peko__peer), 24);
    peko__peers ps;
    table_init(&ps, false);
    peko__peer *p = add(&ps, 1);
    peko_addr a = addr_of(1);
    cr_assert(peko_addr_equal(peko__peer_addr(&ps, p), &a));
    cr_assert_eq(peko__peer_fp(&ps, p), peko_addr_fingerprint(&a));
    cr_assert_eq(records->n, 1);
    table_free(&ps);
}

Test(peers, finds_what_was_added_and_nothing_else)
{
    peko__peers ps;
    table_init(&ps, false);
    peko_addr a = addr_of(1);
    cr_assert_null(find(&ps, &a));
    for (uint32_t i = 0; i < 5000; i++)
        add(&ps, i);
    cr_assert_eq(ps.n, 5000);
    assert_consistent(&ps);
    for (uint32_t i = 0; i < 5000; i++) {
        peko_addr x = addr_of(i);
        peko__peer *p = find(&ps, &x);
        cr_assert_not_null(p, "peer %u", i);
        cr_assert(peko_addr_equal(peko__peer_addr(&ps, p), &x));
        cr_assert_eq(p->seq, i);
    }
    peko_addr other = addr_of(5000);
    cr_assert_null(find(&ps, &other));
    table_free(&ps);
}

Test(peers, equal_fingerprints_are_told_apart_by_address)
{
    /* Two addresses given the same fingerprint share a probe run; each
     * must still be found as itself, and removing one keeps the other. */
    peko__peers ps;
    table_init(&ps, false);
    peko_addr a = addr_of(1), b = addr_of(2), c = addr_of(3);
    peko__peers_add(&ps, &a, 77)->seq = 1;
    peko__peers_add(&ps, &b, 77)->seq = 2;
    cr_assert_eq(peko__peers_find(&ps, &a, 77)->seq, 1);
    cr_assert_eq(peko__peers_find(&ps, &b, 77)->seq, 2);
    cr_assert_null(peko__peers_find(&ps, &c, 77));
    peko__peers_remove(&ps, entry_of(&ps, peko__peers_find(&ps, &a, 77)));
    cr_assert_null(peko__peers_find(&ps, &a, 77));
    cr_assert_eq(peko__peers_find(&ps, &b, 77)->seq, 2);
    assert_consistent(&ps);
    table_free(&ps);
}

Test(peers, an_upward_sweep_that_removes_misses_nothing)
{
    /* Fingerprints chosen to make long probe runs that wrap around the
     * end of the table: a sweep that looks at a slot again after each
     * removal must still see (and here remove) every peer in one pass. */
    peko__peers ps;
    table_init(&ps, false);
    for (uint32_t i = 0; i < 12; i++) {
        peko_addr a = addr_of(i);
        /* Homes 14 and 15 of 16 slots: the runs wrap to slot 0. */
        peko__peers_add(&ps, &a, 14 + (i & 1))->seq = i;
    }
    cr_assert_eq(ps.cap, 16);
    bool seen[12] = {false};
    for (uint32_t s = 0; s < ps.cap;) {
        if (!peko__peers_used(&ps, s)) {
            s++;
            continue;
        }
        seen[peko__peers_at(&ps, s)->seq] = true;
        peko__peers_remove(&ps, peko__peers_entry_in(&ps, s));
        assert_consistent(&ps);
    }
    cr_assert_eq(ps.n, 0);
    for (uint32_t i = 0; i < 12; i++)
        cr_assert(seen[i], "peer %u", i);
    table_free(&ps);
}

/* The refresh list of an ordered table holds every peer once, linked
 * both ways, and in the order of model[0 .. n). */
static void assert_lru(const peko__peers *ps, const uint32_t *model,
                       uint32_t n)
{
    uint32_t k = 0, prev = PEKO__ENTRY_NONE;
    for (uint32_t e = peko__peers_oldest(ps); e != PEKO__ENTRY_NONE;
         e = peko__peers_newer(ps, e)) {
        cr_assert_lt(k, n, "list longer than the table");
        cr_assert_lt(e, ps->n);
        cr_assert_eq(peko__peers_older(ps, e), prev);
        cr_assert_eq(peko__peers_entry(ps, e)->seq, model[k], "position %u",
                     k);
        prev = e;
        k++;
    }
    cr_assert_eq(k, n);
    cr_assert_eq(peko__peers_newest(ps), prev);
}

static void churn(bool ordered)
{
    /* Removes from the middle of probe runs, interleaved with adds,
     * refreshes, growth and shrinking, against a plain array as the
     * model (and, ordered, a list of peers by refresh). */
    peko__peers ps;
    table_init(&ps, ordered);
    static uint32_t order[3000];
    uint32_t n_order = 0;
    bool present[3000] = {false};
    model_table m = {NULL, 0, 0};
    uint64_t x = 12345;
    for (int step = 0; step < 30000; step++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        /* Phases of mostly adds and mostly removes, so the table both
         * grows and empties enough to shrink. */
        bool removing = (step / 5000) % 2 == 1;
        uint32_t i = (uint32_t)(x >> 33) % 3000;
        peko_addr a = addr_of(i);
        peko__peer *p = find(&ps, &a);
        cr_assert_eq(p != NULL, present[i], "step %d peer %u", step, i);
        if (p && (removing || (x >> 20) % 4 == 0)) {
            peko__peers_remove(&ps, entry_of(&ps, p));
            model_remove(&m, i);
            present[i] = false;
            for (uint32_t k = 0; k < n_order; k++)
                if (order[k] == i) {
                    memmove(order + k, order + k + 1,
                            (n_order - k - 1) * sizeof *order);
                    n_order--;
                    break;
                }
            if (step % 64 == 0) {
                peko__peers_shrink(&ps);
                model_shrink(&m, ordered ? order : NULL);
            }
        } else if (!p && (!removing || (x >> 20) % 8 == 0)) {
            add(&ps, i);
            model_add(&m, i, ordered ? order : NULL);
            present[i] = true;
            order[n_order++] = i;
        } else if (p && ordered && (x >> 24) % 2 == 0) {
            peko__peers_touch(&ps, entry_of(&ps, p));
            for (uint32_t k = 0; k < n_order; k++)
                if (order[k] == i) {
                    memmove(order + k, order + k + 1,
                            (n_order - k - 1) * sizeof *order);
                    order[n_order - 1] = i;
                    break;
                }
        }
        if (ordered && step % 997 == 0)
            assert_lru(&ps, order, n_order);
        if (step % 101 == 0) {
            assert_consistent(&ps);
            assert_model(&ps, &m);
        }
    }
    assert_consistent(&ps);
    assert_model(&ps, &m);
    free(m.slot);
    if (ordered)
        assert_lru(&ps, order, n_order);
    uint32_t n = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        peko_addr a = addr_of(i);
        peko__peer *p = find(&ps, &a);
        cr_assert_eq(p != NULL, present[i]);
        if (p) {
            cr_assert_eq(p->seq, i);
            n++;
        }
    }
    cr_assert_eq(ps.n, n);
    table_free(&ps);
}

Test(peers, table_survives_churn)
{
    churn(false);
}

Test(peers, ordered_table_keeps_its_refresh_order_through_churn)
{
    churn(true);
}

static size_t expected_range(const peko__peers *ps, uint32_t first,
                             uint32_t last, uint32_t *out);

/* Grows a table past the 2-byte entry numbers and shrinks it back: the
 * slots stay the model's, the refresh list its order, ranges their
 * peers, and every peer findable, at both widths and across. */
static void crosses_widths(bool ordered)
{
    enum { N = 60000, KEEP = 5000 };
    peko__peers ps;
    table_init(&ps, ordered);
    uint32_t *order = calloc(N, sizeof *order);
    uint32_t *got = calloc(N, sizeof *got), *want = calloc(N, sizeof *want);
    uint64_t *scratch = calloc(N, sizeof *scratch);
    model_table m = {NULL, 0, 0};
    bool was_narrow = true;
    for (uint32_t i = 0; i < N; i++) {
        add(&ps, i);
        model_add(&m, i, ordered ? order : NULL);
        order[i] = i;
        if (peko__peers_narrow(&ps) != was_narrow) {
            /* Just rebuilt in the other width. */
            was_narrow = false;
            cr_assert_gt(ps.cap, PEKO__PEERS_NARROW_SLOTS);
            assert_consistent(&ps);
            assert_model(&ps, &m);
            if (ordered)
                assert_lru(&ps, order, i + 1);
        }
    }
    cr_assert(!was_narrow, "never left the narrow width");
    /* Refresh a few so the list order is not the adding order. */
    if (ordered)
        for (uint32_t i = 0; i < N; i += 7) {
            peko_addr a = addr_of(i);
            peko__peers_touch(&ps, entry_of(&ps, find(&ps, &a)));
        }
    uint32_t n_order = 0;
    if (ordered) {
        for (uint32_t i = 0; i < N; i++)
            if (i % 7 != 0)
                order[n_order++] = i;
        for (uint32_t i = 0; i < N; i += 7)
            order[n_order++] = i;
        assert_lru(&ps, order, n_order);
    }
    assert_consistent(&ps);
    assert_model(&ps, &m);
    for (uint32_t i = KEEP; i < N; i++) {
        peko_addr a = addr_of(i);
        peko__peers_remove(&ps, entry_of(&ps, find(&ps, &a)));
        model_remove(&m, i);
    }
    if (ordered) {
        uint32_t k = 0;
        for (uint32_t j = 0; j < n_order; j++)
            if (order[j] < KEEP)
                order[k++] = order[j];
        n_order = k;
    }
    peko__peers_shrink(&ps);
    model_shrink(&m, ordered ? order : NULL);
    cr_assert(peko__peers_narrow(&ps), "cap %u after shrinking", ps.cap);
    assert_consistent(&ps);
    assert_model(&ps, &m);
    if (ordered) {
        assert_lru(&ps, order, n_order);
        size_t n_want = expected_range(&ps, 0x40000000u, 0x9fffffffu, want);
        size_t n_got = peko__peers_collect(&ps, 0x40000000u, 0x9fffffffu,
                                           ps.n, got, scratch);
        cr_assert_eq(n_got, n_want);
        cr_assert_arr_eq(got, want, n_want * sizeof *got);
    }
    for (uint32_t i = 0; i < N; i++) {
        peko_addr a = addr_of(i);
        peko__peer *p = find(&ps, &a);
        cr_assert_eq(p != NULL, i < KEEP, "peer %u", i);
        if (p)
            cr_assert_eq(p->seq, i);
    }
    free(m.slot);
    free(order);
    free(got);
    free(want);
    free(scratch);
    table_free(&ps);
}

Test(peers, a_plain_table_crosses_entry_number_widths)
{
    crosses_widths(false);
}

Test(peers, an_ordered_table_crosses_entry_number_widths)
{
    crosses_widths(true);
}

Test(peers, ordered_table_keeps_its_buckets_through_churn)
{
    /* Adds, removes (records move back) and growth and shrinking: every
     * range still reads exactly its peers. */
    peko__peers ps;
    table_init(&ps, true);
    static uint32_t got[3000], want[3000];
    static uint64_t scratch[3000];
    bool present[3000] = {false};
    uint64_t x = 777;
    for (int step = 0; step < 20000; step++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t i = (uint32_t)(x >> 33) % 3000;
        bool removing = (step / 4000) % 2 == 1;
        peko_addr a = addr_of(i);
        peko__peer *p = find(&ps, &a);
        if (p && (removing || (x >> 20) % 4 == 0)) {
            peko__peers_remove(&ps, entry_of(&ps, p));
            present[i] = false;
            if (step % 50 == 0)
                peko__peers_shrink(&ps);
        } else if (!p && (!removing || (x >> 20) % 8 == 0)) {
            add(&ps, i);
            present[i] = true;
        }
        if (step % 499 == 0) {
            uint32_t first = (uint32_t)(x >> 7);
            uint32_t last = first + (uint32_t)(x >> 34);
            size_t n_want = expected_range(&ps, first, last, want);
            size_t n_got = peko__peers_collect(&ps, first, last, ps.n, got,
                                               scratch);
            cr_assert_eq(n_got, n_want, "step %d", step);
            cr_assert_arr_eq(got, want, n_want * sizeof *got);
            assert_consistent(&ps);
        }
    }
    uint32_t n_present = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        peko_addr a = addr_of(i);
        cr_assert_eq(find(&ps, &a) != NULL, present[i], "peer %u", i);
        n_present += present[i];
    }
    cr_assert_eq(ps.n, n_present);
    table_free(&ps);
}

/* Brute force: the entries of the peers in [first, last], in
 * fingerprint order from first (ties by slot). */
static size_t expected_range(const peko__peers *ps, uint32_t first,
                             uint32_t last, uint32_t *out)
{
    size_t n = 0;
    for (uint32_t s = 0; s < ps->cap; s++)
        if (peko__peers_used(ps, s) &&
            peko__peer_fp(ps, peko__peers_at(ps, s)) - first <= last - first)
            out[n++] = s;
    for (size_t i = 1; i < n; i++) {
        uint32_t v = out[i];
        size_t j = i;
        for (; j > 0; j--) {
            uint32_t a = peko__peer_fp(ps, peko__peers_at(ps, out[j - 1])) - first;
            uint32_t b = peko__peer_fp(ps, peko__peers_at(ps, v)) - first;
            if (a < b || (a == b && out[j - 1] < v))
                break;
            out[j] = out[j - 1];
        }
        out[j] = v;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = peko__peers_entry_in(ps, out[i]);
    return n;
}

Test(peers, collect_reads_a_fingerprint_range_in_order)
{
    peko__peers ps;
    table_init(&ps, true);
    for (uint32_t i = 0; i < 2000; i++)
        add(&ps, i);
    static uint32_t got[2000], want[2000];
    static uint64_t scratch[2000];
    uint64_t x = 99;
    for (int trial = 0; trial < 300; trial++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t first = (uint32_t)(x >> 32);
        /* Short ranges, long ones, ones that wrap, the whole ring. */
        uint32_t span = trial % 4 == 0   ? UINT32_MAX
                        : trial % 4 == 1 ? (uint32_t)(x >> 40)
                                         : (uint32_t)x;
        uint32_t last = first + span;
        size_t n_want = expected_range(&ps, first, last, want);
        size_t n_got = peko__peers_collect(&ps, first, last, ps.n, got, scratch);
        cr_assert_eq(n_got, n_want, "trial %d", trial);
        cr_assert_arr_eq(got, want, n_want * sizeof *got);
        /* Stopping early still yields the first ones, in order. */
        size_t limit = trial % 50;
        n_got = peko__peers_collect(&ps, first, last, limit, got, scratch);
        if (n_want > limit) {
            cr_assert_gt(n_got, limit);
            cr_assert_arr_eq(got, want, (limit + 1) * sizeof *got);
        } else {
            cr_assert_eq(n_got, n_want);
        }
    }
    table_free(&ps);
}

Test(peers, collect_orders_equal_fingerprints_by_slot)
{
    /* Many peers share each of a few fingerprints, and removals move the
     * last entry into the hole, so entry numbers and slots disagree: the
     * ties must still come out by slot. */
    peko__peers ps;
    table_init(&ps, true);
    static uint32_t got[400], want[400];
    static uint64_t scratch[400];
    for (uint32_t i = 0; i < 400; i++) {
        peko_addr a = addr_of(i);
        peko__peers_add(&ps, &a, 0x40000000u * (i % 4) + 7 + i % 3)->seq = i;
    }
    for (uint32_t i = 0; i < 400; i += 3) {
        peko_addr a = addr_of(i);
        peko__peer *p =
            peko__peers_find(&ps, &a, 0x40000000u * (i % 4) + 7 + i % 3);
        peko__peers_remove(&ps, entry_of(&ps, p));
    }
    assert_consistent(&ps);
    uint32_t firsts[] = {0, 7, 8, 0x40000007u, 0xC0000008u};
    for (size_t k = 0; k < sizeof firsts / sizeof *firsts; k++) {
        uint32_t first = firsts[k], last = first - 1;
        size_t n_want = expected_range(&ps, first, last, want);
        cr_assert_eq(n_want, ps.n);
        size_t n_got =
            peko__peers_collect(&ps, first, last, ps.n, got, scratch);
        cr_assert_eq(n_got, n_want);
        cr_assert_arr_eq(got, want, n_want * sizeof *got);
        n_got = peko__peers_collect(&ps, first, last, 10, got, scratch);
        cr_assert_gt(n_got, 10);
        cr_assert_arr_eq(got, want, 11 * sizeof *got);
    }
    table_free(&ps);
}

Test(peers, tombstones_are_counted_apart)
{
    peko__peers ps;
    table_init(&ps, true);
    for (uint32_t i = 0; i < 10; i++)
        add(&ps, i);
    peko_addr a = addr_of(3);
    uint32_t s = entry_of(&ps, find(&ps, &a));
    peko__peers_set_dead(&ps, s, true);
    peko__peers_set_dead(&ps, s, true);
    cr_assert_eq(peko__peers_live(&ps), 9);
    cr_assert(peko__peer_is_dead(find(&ps, &a)));
    peko__peers_set_dead(&ps, s, false);
    cr_assert_eq(peko__peers_live(&ps), 10);
    peko__peers_set_dead(&ps, s, true);
    peko__peers_remove(&ps, s);
    cr_assert_eq(ps.n, 9);
    cr_assert_eq(peko__peers_live(&ps), 9);
    table_free(&ps);
}

Test(peers, shrink_keeps_an_eighth_full_and_everything_findable)
{
    peko__peers ps;
    table_init(&ps, false);
    for (uint32_t i = 0; i < 1000; i++)
        add(&ps, i);
    uint32_t big = ps.cap;
    for (uint32_t i = 0; i < 990; i++) {
        peko_addr a = addr_of(i);
        peko__peers_remove(&ps, entry_of(&ps, find(&ps, &a)));
    }
    peko__peers_shrink(&ps);
    cr_assert_lt(ps.cap, big);
    cr_assert_geq((uint64_t)ps.n * 8, ps.cap);
    assert_consistent(&ps);
    for (uint32_t i = 990; i < 1000; i++) {
        peko_addr a = addr_of(i);
        cr_assert_eq(find(&ps, &a)->seq, i);
    }
    table_free(&ps);
}

Test(peers, tables_share_records_and_release_them)
{
    peko__peers a, b;
    table_init(&a, false);
    table_init(&b, true);
    peko__peer *pa = add(&a, 1);
    peko__peer *pb = add(&b, 1);
    cr_assert_eq(peko__peer_name_len(&a, pa) + peko__peer_data_len(&a, pa),
                 0);
    /* The same address, name and data: one record, two references. */
    cr_assert_eq(pa->record, pb->record);
    cr_assert_eq(records->n, 1);
    cr_assert_eq(peko__records_get(records, pa->record)->refs, 2);

    const char *long_name = "a-name-longer-than-sixteen-bytes";
    cr_assert(peko__peer_set_text(&a, pa, (const uint8_t *)long_name,
                                  (uint16_t)strlen(long_name),
                                  (const uint8_t *)"dc=1", 4));
    cr_assert_neq(pa->record, pb->record);
    cr_assert_eq(records->n, 2);
    cr_assert_eq(peko__peer_name_len(&a, pa), strlen(long_name));
    cr_assert_eq(memcmp(peko__peer_name(&a, pa), long_name,
                        strlen(long_name)), 0);
    cr_assert_eq(memcmp(peko__peer_data(&a, pa), "dc=1", 4), 0);
    cr_assert(peko_addr_equal(peko__peer_addr(&a, pa),
                              peko__peer_addr(&b, pb)));
    /* Setting what is held changes nothing. */
    uint32_t held = pa->record;
    cr_assert_not(peko__peer_set_text(&a, pa, (const uint8_t *)long_name,
                                      (uint16_t)strlen(long_name),
                                      (const uint8_t *)"dc=1", 4));
    cr_assert_eq(pa->record, held);
    /* Name "ab" with no data is another record than "a" with "b". */
    cr_assert(peko__peer_set_text(&b, pb, (const uint8_t *)"ab", 2, NULL, 0));
    uint32_t ab = pb->record;
    cr_assert(peko__peer_set_text(&b, pb, (const uint8_t *)"a", 1,
                                  (const uint8_t *)"b", 1));
    cr_assert_neq(pb->record, ab);
    cr_assert_eq(records->n, 2); /* "ab" went with its last reference */
    cr_assert(peko__peer_set_text(&b, pb, (const uint8_t *)long_name,
                                  (uint16_t)strlen(long_name),
                                  (const uint8_t *)"dc=1", 4));
    cr_assert_eq(pb->record, pa->record);
    cr_assert_eq(records->n, 1);

    /* Records stay where they are while tables grow and shrink. */
    const peko__record *r = peko__peer_record(&a, pa);
    for (uint32_t i = 2; i < 3000; i++) {
        add(&a, i);
        add(&b, i);
    }
    cr_assert_eq(records->n, 2999); /* peer 1's record is shared */
    peko_addr x = addr_of(1);
    cr_assert_eq(peko__peer_record(&a, find(&a, &x)), r);
    cr_assert_eq(memcmp(peko__peer_name(&b, find(&b, &x)), long_name,
                        strlen(long_name)), 0);
    for (uint32_t i = 2; i < 3000; i += 2) {
        peko_addr y = addr_of(i);
        peko__peers_remove(&a, entry_of(&a, find(&a, &y)));
    }
    cr_assert_eq(records->n, 2999); /* b still holds the even ones */
    for (uint32_t i = 2; i < 3000; i += 2) {
        peko_addr y = addr_of(i);
        peko__peers_remove(&b, entry_of(&b, find(&b, &y)));
    }
    cr_assert_eq(records->n, 1 + 1499);
    assert_consistent(&a);
    assert_consistent(&b);
    peko__peers_free(&a);
    table_free(&b);
}
