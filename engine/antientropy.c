/* antientropy.c: heartbeat digests in swaps, the repair of the node list
 * (docs/protocol.md, "Anti-entropy"; the bytes: docs/wire.md).
 *
 * A swap request carries the requester's heartbeat versions: its own
 * entry, every peer in a range of fingerprints (the next part of a ring
 * it walks round cycle after cycle), and the peers it heard from least
 * recently, the ones a missed heartbeat puts at risk of a wrong removal.
 * The responder takes every newer version it is told (push), and answers
 * with its own entries that are newer than the requester's, and with the
 * full record of every node in the range the requester does not list
 * (pull), all within Size; a digest node then fills what room is left
 * with the versions it learned most recently. So each exchange
 * reconciles one range completely between two nodes and repairs the
 * peers most at risk, in one round trip and at most Size bytes each way,
 * whatever the size of the list (Scuttlebutt's reconciliation, van
 * Renesse et al. 2008, on ranges).
 *
 * The metadata rides along as a version: a responder with newer metadata
 * answers with it; a requester that learns it holds newer metadata than
 * the responder pushes it (a swap response carrying only the metadata,
 * sent to the peer it chose, never to an address a packet names).
 */
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

/* A short IPv4 entry: the unit in which budgets count entries. */
#define SHORT_ENTRY_BYTES 18

/* Room for digest entries in *msg as it stands (Size minus the rest). */
static size_t entry_room(const peko_nodelist *nl, const peko__msg *msg)
{
    size_t fixed = peko__wire_size_without_set(msg, nl->wire_keys);
    return fixed < nl->size ? nl->size - fixed : 0;
}

typedef struct builder {
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint16_t n;
    bool overflowed;  /* an entry did not fit */
} builder;

static bool put(builder *b, const peko__entry *e)
{
    size_t need = peko__entry_bytes(e);
    if (b->n == UINT16_MAX || need > b->cap - b->len) {
        b->overflowed = true;
        return false;
    }
    peko__entry_write(b->buf + b->len, e);
    b->len += need;
    b->n++;
    return true;
}

static bool put_peer(const peko_nodelist *nl, builder *b,
                     const peko__peer *p, bool full)
{
    peko__entry e;
    peko__entry_of_peer(nl, p, full, &e);
    return put(b, &e);
}

/* The local node's entry: its record when it fits. A stopped node sends
 * none: its record would list it again wherever its tombstone is gone,
 * and it is not alive in the sense of the lists (stop() means "expire
 * me"); start() announces it again. */
static void put_self(builder *b, const peko_nodelist *nl, bool full)
{
    if (!nl->running)
        return;
    if (!(full && put_peer(nl, b, &nl->self, true)))
        put_peer(nl, b, &nl->self, false);
}

static void finish(peko_nodelist *nl, peko__msg *msg, const builder *b)
{
    msg->entries = b->buf;
    msg->entries_len = (uint32_t)b->len;
    msg->n_entries = b->n;
    nl->stats.digest_entries_sent += b->n;
}

/* A builder over a borrowed buffer of Size bytes, `room` of which may
 * hold entries; builder_return() hands the buffer back once the message
 * has been encoded. */
static builder builder_borrow(peko_nodelist *nl, size_t room)
{
    return (builder){peko__work_borrow(nl, nl->size), 0, room, 0, false};
}

static void builder_return(peko_nodelist *nl, const builder *b)
{
    peko__work_return(nl, b->buf);
}

/* Room for a range of every peer: the sort's keys, then the entries,
 * in one borrowed block (range_return() hands it back). */
static uint32_t *range_borrow(peko_nodelist *nl, uint64_t **keys)
{
    size_t n = MAX(nl->peers.n, 1);
    *keys = peko__work_borrow(nl, n * (sizeof(uint64_t) + sizeof(uint32_t)));
    return (uint32_t *)(*keys + n);
}

static void range_return(peko_nodelist *nl, uint64_t *keys)
{
    peko__work_return(nl, keys);
}

static inline uint32_t fp_at(const peko_nodelist *nl, uint32_t e)
{
    return peko__peer_fp(&nl->peers, peko__peers_entry(&nl->peers, e));
}

/* ------------------------------------------------------------------ */
/* The request.                                                         */

void peko__ae_new_cycle(peko_nodelist *nl)
{
    nl->ae_n_out = 0;
}

/* Lists our peers from `first` to `last` (first - 1: round the whole
 * ring) into b, as many as about three quarters of the room allows, and
 * sets the range in *msg to what they cover. Returns true if it reaches
 * `last`. */
static bool list_range(peko_nodelist *nl, peko__msg *msg, builder *b,
                       uint32_t first, uint32_t last)
{
    size_t want = (b->cap - b->len) * 3 / 4 / SHORT_ENTRY_BYTES;
    if (want == 0)
        want = 1;
    uint64_t *keys;
    uint32_t *got = range_borrow(nl, &keys);
    size_t found = peko__peers_collect(&nl->peers, first, last, want, got,
                                       keys);
    size_t take = found;
    if (found > want) {
        /* End the range just before the first peer left out, and never
         * between two peers that share a fingerprint. */
        take = want;
        uint32_t cut = fp_at(nl, got[want]);
        while (take > 0 && fp_at(nl, got[take - 1]) == cut)
            take--;
        last = cut - 1;
    }
    /* A peer never heard from has no version to list: the responder,
     * seeing it missing, sends its record. */
    size_t i = 0;
    for (; i < take; i++) {
        const peko__peer *p = peko__peers_entry(&nl->peers, got[i]);
        if (peko__peer_has_heartbeat(p) && !put_peer(nl, b, p, false))
            break;
    }
    if (i < take)
        last = fp_at(nl, got[i]) - 1;
    range_return(nl, keys);
    msg->has_range = true;
    msg->range_first = first;
    msg->range_last = last;
    return found <= want && i == take;
}

/* Lists the peers of the next range from the cursor into b and moves
 * the cursor past it. Returns true if the range is the whole ring. */
static bool request_range(peko_nodelist *nl, peko__msg *msg, builder *b)
{
    uint32_t first = nl->ae_cursor;
    bool whole = list_range(nl, msg, b, first, first - 1);
    /* A whole ring starts anywhere next time: requests to several peers
     * of one cycle then have their truncated answers start in different
     * places. */
    nl->ae_cursor = whole ? (uint32_t)nl->env->random_u64(nl->env)
                          : msg->range_last + 1;
    return whole;
}

/* The peers heard from least recently, outside the range, as room
 * allows: those a missed heartbeat brings closest to a wrong removal. */
static void request_at_risk(peko_nodelist *nl, const peko__msg *msg,
                            builder *b)
{
    size_t visits = 2 * (b->cap - b->len) / SHORT_ENTRY_BYTES + 16;
    for (uint32_t e = peko__peers_oldest(&nl->peers);
         e != PEKO__ENTRY_NONE && visits > 0;
         e = peko__peers_newer(&nl->peers, e), visits--) {
        const peko__peer *p = peko__peers_entry(&nl->peers, e);
        if (!peko__peer_has_heartbeat(p) ||
            peko__range_contains(msg->range_first, msg->range_last,
                                 peko__peer_fp(&nl->peers, p)))
            continue;
        if (!put_peer(nl, b, p, false))
            break;
    }
}

void peko__ae_request(peko_nodelist *nl, uint32_t e)
{
    const peko__peer *peer = peko__peers_entry(&nl->peers, e);
    peko_addr to = *peko__peer_addr(&nl->peers, peer);
    peko__ae_request_to(nl, &to);
}

/* Sends the request built in msg and b, remembering it so that its
 * answer is known as one, and hands b's buffer back. */
static void send_request(peko_nodelist *nl, const peko_addr *to,
                         peko__msg *msg, const builder *b)
{
    finish(nl, msg, b);
    if (nl->ae_n_out < PEKO__AE_OUTSTANDING + 1) {
        nl->ae_out[nl->ae_n_out].to = *to;
        nl->ae_out[nl->ae_n_out].has_range = msg->has_range;
        nl->ae_out[nl->ae_n_out].range_first = msg->range_first;
        nl->ae_out[nl->ae_n_out].range_last = msg->range_last;
        nl->ae_out[nl->ae_n_out].sent_us = msg->sent_us;
        nl->ae_n_out++;
    }
    peko__print_swap(nl, true, peko__self_addr(nl), to);
    peko__send_msg(nl, msg, to);
    builder_return(nl, b);
}

static void request_init(peko_nodelist *nl, peko__msg *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->type = PEKO_MSG_SWAP_REQUEST;
    msg->sender = (*peko__self_addr(nl));
    msg->version = nl->meta_version;
    msg->sent_us = peko__wall_us(nl);
}

void peko__ae_request_to(peko_nodelist *nl, const peko_addr *addr)
{
    peko_addr to = *addr;
    peko__msg msg;
    request_init(nl, &msg);
    msg.has_range = true;

    builder b = builder_borrow(nl, entry_room(nl, &msg));
    put_self(&b, nl, true);
    if (!request_range(nl, &msg, &b))
        request_at_risk(nl, &msg, &b);
    send_request(nl, &to, &msg, &b);
}

/* ------------------------------------------------------------------ */
/* Gaps.
 *
 * A request's range is as wide as the peers the requester lists in it,
 * so where its list lacks many peers (a cold start, a wave of joins, a
 * partition healing) the range spans them all, and the answer, full
 * records of every peer missing, is cut short by Size. Asking the rest
 * again one range a cycle fills such a gap one packet a cycle: in a
 * cold start of 1,000 nodes whose swaps carry 68 entries, the last
 * nodes to complete filled gaps of 300 peers 50 a cycle, 10 cycles
 * after the rest. So the rest of a cut-short answer that brought peers
 * is remembered, split by the share of it the answer covered, and asked
 * at the next cycle, each piece of the same responder: it holds what is
 * missing there (an answer is cut short only by records it had to
 * send), and it has seen this node answer its challenge, so its answers
 * are no longer held to the size of the request. */

static void gap_push(peko_nodelist *nl, const peko_addr *from, uint32_t first,
                     uint32_t last, bool front)
{
    if (nl->ae_n_gaps == PEKO__AE_GAPS)
        return; /* the cursor comes round to it */
    uint32_t at = front ? 0 : nl->ae_n_gaps;
    memmove(&nl->ae_gaps[at + 1], &nl->ae_gaps[at],
            (nl->ae_n_gaps - at) * sizeof nl->ae_gaps[0]);
    nl->ae_gaps[at].from = *from;
    nl->ae_gaps[at].first = first;
    nl->ae_gaps[at].last = last;
    nl->ae_n_gaps++;
}

/* The rest of the range [first, asked_last] after an answer that covered
 * [first, answered_last], as pieces about the width of what it covered. */
static void gap_split(peko_nodelist *nl, const peko_addr *from, uint32_t first,
                      uint32_t answered_last, uint32_t asked_last)
{
    uint64_t covered = (uint64_t)(uint32_t)(answered_last - first) + 1;
    uint64_t rest = (uint32_t)(asked_last - answered_last);
    uint64_t pieces = (rest + covered - 1) / covered;
    if (pieces > PEKO__AE_GAP_PIECES)
        pieces = PEKO__AE_GAP_PIECES;
    uint32_t at = answered_last + 1;
    for (uint64_t k = 0; k < pieces; k++) {
        uint64_t width = rest / pieces + (k < rest % pieces ? 1 : 0);
        gap_push(nl, from, at, (uint32_t)(at + width - 1), false);
        at = (uint32_t)(at + width);
    }
}

static bool gap_covers(const peko_nodelist *nl, uint32_t fp)
{
    for (uint32_t k = 0; k < nl->ae_n_gaps; k++)
        if (peko__range_contains(nl->ae_gaps[k].first, nl->ae_gaps[k].last,
                                 fp))
            return true;
    return false;
}

uint32_t peko__ae_request_gaps(peko_nodelist *nl, uint32_t max)
{
    uint32_t sent = 0;
    while (sent < max && nl->ae_n_gaps > 0) {
        uint32_t first = nl->ae_gaps[0].first, last = nl->ae_gaps[0].last;
        peko_addr to = nl->ae_gaps[0].from;
        nl->ae_n_gaps--;
        memmove(&nl->ae_gaps[0], &nl->ae_gaps[1],
                nl->ae_n_gaps * sizeof nl->ae_gaps[0]);
        /* A gap's responder that has left the list is asked no more. */
        const peko__peer *p = peko__peer_find(nl, &to);
        if (p == NULL || peko__peer_is_dead(p))
            continue;
        peko__msg msg;
        request_init(nl, &msg);
        builder b = builder_borrow(nl, entry_room(nl, &msg));
        put_self(&b, nl, true);
        if (!list_range(nl, &msg, &b, first, last))
            gap_push(nl, &to, msg.range_last + 1, last, true);
        send_request(nl, &to, &msg, &b);
        sent++;
    }
    return sent;
}

static bool is_stale(const peko__peer *p, int64_t before_us)
{
    return !peko__peer_is_dead(p) && peko__peer_has_heartbeat(p) &&
           p->last_seen_us < before_us;
}

/* A peer listed before before_us (a seed, or one the application set)
 * and never heard from since: as much at risk as a stale one, but with
 * no version to list. */
static bool is_unheard(const peko__peer *p, int64_t before_us)
{
    return !peko__peer_is_dead(p) && !peko__peer_has_heartbeat(p) &&
           p->last_seen_us < before_us;
}

bool peko__ae_has_stale(const peko_nodelist *nl, int64_t before_us)
{
    int look = PEKO__STALE_LOOK;
    for (uint32_t e = peko__peers_oldest(&nl->peers);
         e != PEKO__ENTRY_NONE && look > 0;
         e = peko__peers_newer(&nl->peers, e), look--) {
        const peko__peer *p = peko__peers_entry(&nl->peers, e);
        if (is_stale(p, before_us) || is_unheard(p, before_us))
            return true;
        if (p->last_seen_us >= before_us)
            return false; /* the rest are newer still */
    }
    return false;
}

uint32_t peko__ae_unheard(const peko_nodelist *nl, int64_t before_us,
                          uint32_t out[PEKO__STALE_LOOK])
{
    uint32_t n = 0;
    int look = PEKO__STALE_LOOK;
    for (uint32_t e = peko__peers_oldest(&nl->peers);
         e != PEKO__ENTRY_NONE && look > 0;
         e = peko__peers_newer(&nl->peers, e), look--) {
        const peko__peer *p = peko__peers_entry(&nl->peers, e);
        if (p->last_seen_us >= before_us)
            break;
        if (is_unheard(p, before_us))
            out[n++] = e;
    }
    return n;
}

void peko__ae_ask_stale(peko_nodelist *nl, uint32_t to_e, int64_t before_us,
                        uint32_t unheard)
{
    const peko__peer *peer = peko__peers_entry(&nl->peers, to_e);
    peko_addr to = *peko__peer_addr(&nl->peers, peer);
    peko__msg msg;
    request_init(nl, &msg);
    builder b = builder_borrow(nl, entry_room(nl, &msg));
    put_self(&b, nl, false);
    /* A peer never heard from is named the way a digest node asks for a
     * node it cannot list: a range of its fingerprint alone, which the
     * responder answers with its record. */
    if (unheard != PEKO__ENTRY_NONE) {
        uint32_t fp = fp_at(nl, unheard);
        list_range(nl, &msg, &b, fp, fp);
    }
    for (uint32_t e = peko__peers_oldest(&nl->peers); e != PEKO__ENTRY_NONE;
         e = peko__peers_newer(&nl->peers, e)) {
        const peko__peer *p = peko__peers_entry(&nl->peers, e);
        if (p->last_seen_us >= before_us)
            break;
        if (is_stale(p, before_us) &&
            !peko_addr_equal(peko__peer_addr(&nl->peers, p), &to) &&
            !(msg.has_range &&
              peko__range_contains(msg.range_first, msg.range_last,
                                   peko__peer_fp(&nl->peers, p))) &&
            !put_peer(nl, &b, p, false))
            break;
    }
    send_request(nl, &to, &msg, &b);
}

/* ------------------------------------------------------------------ */
/* The response.                                                        */

/* One entry of a request, with its place in the request's range. */
typedef struct listed {
    uint32_t key;      /* fingerprint - range_first */
    uint32_t fp;
    bool in_range;
    peko__entry e;
} listed;

static int compare_listed(const void *a, const void *b)
{
    const listed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return peko_addr_compare(&x->e.addr, &y->e.addr);
}

/* Room for `count` listed entries, for the length of one call (work
 * space, nodelist-private.h); handed back with listed_free(). */
static listed *listed_alloc(peko_nodelist *nl, size_t count)
{
    return peko__work_borrow(nl, MAX(count, 1) * sizeof(listed));
}

static void listed_free(peko_nodelist *nl, listed *l)
{
    peko__work_return(nl, l);
}

/* A message's entries, read, with their fingerprints and places, in an
 * array of `spare` more than them (the caller's work space); the caller
 * hands it back with listed_free(). */
static listed *read_entries(peko_nodelist *nl, const peko__msg *m,
                            size_t spare, size_t *n_out)
{
    listed *l = listed_alloc(nl, (size_t)m->n_entries + spare);
    size_t n = 0;
    peko__entry_reader r;
    peko__entry_reader_init(&r, m);
    while (peko__entry_next(&r, &l[n].e)) {
        uint32_t fp = peko_addr_fingerprint(&l[n].e.addr);
        l[n].fp = fp;
        l[n].in_range = m->has_range &&
                        peko__range_contains(m->range_first,
                                             m->range_last, fp);
        l[n].key = fp - m->range_first;
        n++;
    }
    *n_out = n;
    return l;
}

/* How far ahead of the entry being applied its successors' records are
 * fetched: in a large list each lookup is a cache miss, and this way
 * they overlap. */
#define PREFETCH_AHEAD 8

/* Applies a message's entries; returns the first that names a node this
 * one does not list, or NULL. */
static const listed *apply_entries(peko_nodelist *nl, const listed *l,
                                   size_t n, peko_msg_type via,
                                   const peko_addr *from, int64_t now_us)
{
    const listed *unknown = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            peko__peers_prefetch(&nl->peers, l[i + PREFETCH_AHEAD].fp);
        if (peko__entry_apply(nl, &l[i].e, l[i].fp, via, from, now_us) ==
                PEKO__APPLIED_UNKNOWN &&
            unknown == NULL)
            unknown = &l[i];
    }
    return unknown;
}

/* A packet from `holder` named a node this one does not list (its
 * version, without its record): a gap of one, asked of the holder at the
 * next cycle. Not while the node sweeps its whole list anyway (a list
 * that grows fast lacks many, and most packets name one); such gaps
 * take at most half the room, so that cut-short answers' always fit; and
 * a node removed at that version is not asked for. */
static void note_missing(peko_nodelist *nl, const listed *unknown,
                         const peko_addr *holder)
{
    if (unknown == NULL || !peko__strategy_of(nl)->fills_gaps ||
        nl->digest_sweeps_left > 0 || nl->ae_n_gaps >= PEKO__AE_GAPS / 2 ||
        gap_covers(nl, unknown->fp) ||
        peko__reconnect_was_removed(nl, &unknown->e.addr,
                                    unknown->e.incarnation, unknown->e.seq))
        return;
    gap_push(nl, holder, unknown->fp, unknown->fp, false);
}

static bool sorted_listed(const listed *l, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (compare_listed(&l[i - 1], &l[i]) > 0)
            return false;
    return true;
}

/* The request's entries, applied (its newer versions are taken), then
 * those in its range first, sorted by their place in it (*n_in of them),
 * and the others after. */
static listed *take_request(peko_nodelist *nl, const peko__msg *m,
                            const peko_addr *to, int64_t now_us,
                            size_t *n_out, size_t *n_in)
{
    size_t n;
    listed *l = read_entries(nl, m, m->n_entries, &n);
    const listed *unknown =
        apply_entries(nl, l, n, PEKO_MSG_SWAP_REQUEST, &m->sender, now_us);
    /* Only a requester that proved its address is asked in turn. */
    if (unknown != NULL && peko__is_verified(nl, to))
        note_missing(nl, unknown, to);
    /* Stable partition: the range's entries to the front, the others
     * through the array's spare half. */
    listed *tmp = l + m->n_entries;
    size_t in = 0, out = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].in_range)
            l[in++] = l[i];
        else
            tmp[out++] = l[i];
    memcpy(l + in, tmp, out * sizeof *l);
    /* Our own requests list their range in order: sorting is then a
     * check. Anyone else's get sorted. */
    if (!sorted_listed(l, in))
        qsort(l, in, sizeof *l, compare_listed);
    *n_out = n;
    *n_in = in;
    return l;
}

/* The request's entry for `addr` with place `key`, or NULL. */
static const listed *find_listed(const listed *l, size_t n, uint32_t key,
                                 const peko_addr *addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && l[lo].key == key; lo++)
        if (peko_addr_equal(&l[lo].e.addr, addr))
            return &l[lo];
    return NULL;
}

/* Our peer p against what the requester listed for it (NULL: nothing):
 * whether to answer, and whether with its record. */
static bool answer_for(const peko_nodelist *nl, const peko__peer *p,
                       const listed *mine, bool *full)
{
    if (!peko__peer_has_heartbeat(p))
        return false;
    if (mine == NULL) {
        *full = true;
        return !peko__peer_is_dead(p);
    }
    if (peko__peer_is_dead(p) ||
        !peko__version_after(nl, p->incarnation, p->seq, mine->e.incarnation,
                             mine->e.seq))
        return false;
    *full = peko__record_after(p->incarnation, p->rev, mine->e.incarnation,
                               mine->e.rev);
    return true;
}

/* Answers the entries listed outside the range: the peers the requester
 * heard from least recently, of which we may know newer versions. */
static void respond_at_risk(peko_nodelist *nl, const listed *l, size_t n,
                            builder *b)
{
    for (size_t i = 0; i < n; i++) {
        if (l[i].in_range)
            continue;
        const peko__peer *p = peko__peer_find(nl, &l[i].e.addr);
        bool full;
        if (p && answer_for(nl, p, &l[i], &full) && !put_peer(nl, b, p, full))
            return;
    }
}

/* Answers the range: every peer of ours in it that the requester lacks
 * (with its record) or holds an older version of. When room runs out the
 * answer covers the range up to the last peer answered, and says so. */
static void respond_range(peko_nodelist *nl, const peko__msg *m,
                          const listed *l, size_t n_in, peko__msg *resp,
                          builder *b)
{
    uint64_t *keys;
    uint32_t *got = range_borrow(nl, &keys);
    size_t found = peko__peers_collect(&nl->peers, m->range_first,
                                       m->range_last, nl->peers.n, got,
                                       keys);
    /* Both are in range order: one merge, no searching. */
    size_t j = 0;
    for (size_t i = 0; i < found; i++) {
        const peko__peer *p = peko__peers_entry(&nl->peers, got[i]);
        if (peko_addr_equal(peko__peer_addr(&nl->peers, p), &m->sender))
            continue;
        uint32_t key = peko__peer_fp(&nl->peers, p) - m->range_first;
        while (j < n_in && l[j].key < key)
            j++;
        const listed *mine = NULL;
        for (size_t k = j; k < n_in && l[k].key == key; k++)
            if (peko_addr_equal(&l[k].e.addr, peko__peer_addr(&nl->peers, p))) {
                mine = &l[k];
                break;
            }
        bool full;
        if (!answer_for(nl, p, mine, &full) || put_peer(nl, b, p, full))
            continue;
        /* Out of room: the answer ends before this peer's fingerprint. */
        nl->stats.digest_truncated++;
        if (peko__peer_fp(&nl->peers, p) == m->range_first)
            resp->has_range = false; /* covers nothing of it */
        else
            resp->range_last = peko__peer_fp(&nl->peers, p) - 1;
        break;
    }
    range_return(nl, keys);
}

/* Adds, in up to a quarter of the room left, the versions learned most
 * recently: news the requester may not have yet (digest's push of fresh
 * heartbeats). A quarter: a whole packet of news costs the requester a
 * lookup each, and the ranges already cover most of the list. */
static void respond_news(peko_nodelist *nl, const peko__msg *m, builder *b)
{
    size_t quarter = (b->cap - b->len) / 4;
    builder news = {b->buf + b->len, 0, quarter, 0, false};
    size_t visits = 2 * quarter / SHORT_ENTRY_BYTES + 16;
    for (uint32_t e = peko__peers_newest(&nl->peers);
         e != PEKO__ENTRY_NONE && visits > 0;
         e = peko__peers_older(&nl->peers, e), visits--) {
        const peko__peer *p = peko__peers_entry(&nl->peers, e);
        if (peko__peer_is_dead(p) || !peko__peer_has_heartbeat(p) ||
            (m->has_range && peko__range_contains(m->range_first,
                                                  m->range_last,
                                                  peko__peer_fp(&nl->peers, p))) ||
            peko_addr_equal(peko__peer_addr(&nl->peers, p), &m->sender))
            continue;
        if (!put_peer(nl, &news, p, false))
            break;
    }
    b->len += news.len;
    b->n = (uint16_t)(b->n + news.n);
}

void peko__ae_on_request(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from)
{
    peko_addr to;
    if (!peko__reply_address(nl, m, from, &to))
        return;
    int64_t now = peko__now_us(nl);
    /* A requester that sends its metadata (pekonode's swap) is taken at
     * its word; ours only carry the version. */
    if (m->has_meta)
        peko__metadata_adopt(nl, m, PEKO_MSG_SWAP_REQUEST);
    size_t n, n_in;
    listed *l = take_request(nl, m, &to, now, &n, &n_in);

    peko__msg resp;
    peko__metadata_fill(nl, &resp, PEKO_MSG_SWAP_RESPONSE);
    resp.echo_us = m->sent_us;
    resp.has_meta = peko__metadata_is_newer_than(nl, &m->version);
    if (!resp.has_meta) {
        resp.meta = NULL;
        resp.meta_len = 0;
    }
    resp.has_range = m->has_range;
    resp.range_first = m->range_first;
    resp.range_last = m->range_last;

    /* Toward an address that has not proved it is the requester's, send
     * no more bytes than came from it, a challenge included: a forged
     * request cannot turn this node into an amplifier. What does not fit
     * waits until the requester echoes the challenge. */
    size_t limit = nl->size;
    bool capped = !peko__is_verified(nl, &to);
    if (capped) {
        size_t challenge = peko__challenge_bytes(nl);
        limit = m->n_bytes > challenge ? m->n_bytes - challenge : 0;
    }
    size_t fixed = peko__wire_size_without_set(&resp, nl->wire_keys);
    if (fixed > limit && resp.has_meta) {
        resp.has_meta = false; /* the version says there is newer */
        resp.meta = NULL;
        resp.meta_len = 0;
        fixed = peko__wire_size_without_set(&resp, nl->wire_keys);
        peko__verify_owe_metadata(nl, &to, &m->version);
    }
    size_t room = entry_room(nl, &resp);
    if (capped)
        room = fixed < limit ? MIN(room, limit - fixed) : 0;
    builder b = builder_borrow(nl, room);
    /* Our own record goes with it when the requester lacks it or holds
     * an older one. */
    const listed *me = find_listed(l, n_in,
                                   peko__peer_fp(&nl->peers, &nl->self) - m->range_first,
                                   peko__self_addr(nl));
    for (size_t i = n_in; me == NULL && i < n; i++)
        if (peko_addr_equal(&l[i].e.addr, peko__self_addr(nl)))
            me = &l[i];
    bool lacks_me = me == NULL && m->has_range &&
                    peko__range_contains(m->range_first, m->range_last,
                                         peko__peer_fp(&nl->peers, &nl->self));
    bool old_record = me && peko__record_after(nl->incarnation, nl->self.rev,
                                               me->e.incarnation, me->e.rev);
    put_self(&b, nl, lacks_me || old_record);
    respond_at_risk(nl, l, n, &b);
    if (m->has_range)
        respond_range(nl, m, l, n_in, &resp, &b);
    if (peko__strategy_of(nl)->pushes_news)
        respond_news(nl, m, &b);
    finish(nl, &resp, &b);
    listed_free(nl, l);

    bool cut = b.overflowed ||
               (!resp.has_meta &&
                peko__metadata_is_newer_than(nl, &m->version));
    if (!capped || fixed <= limit) {
        peko__print_swap(nl, false, &m->sender, peko__self_addr(nl));
        peko__send_reply(nl, &resp, &to, m);
    }
    builder_return(nl, &b);
    if (capped && (cut || fixed > limit))
        peko__challenge(nl, &to);
}

/* The request of ours `m` answers: one sent to its sender, and of
 * several (the pieces of a gap) the one whose range it answers. Returns
 * nl->ae_n_out if none. */
static uint32_t match_request(const peko_nodelist *nl, const peko__msg *m)
{
    uint32_t found = nl->ae_n_out;
    for (uint32_t k = 0; k < nl->ae_n_out; k++) {
        if (!peko_addr_equal(&nl->ae_out[k].to, &m->sender))
            continue;
        if (!m->has_range || (nl->ae_out[k].has_range &&
                              nl->ae_out[k].range_first == m->range_first))
            return k;
        if (found == nl->ae_n_out)
            found = k;
    }
    return found;
}

void peko__ae_on_response(peko_nodelist *nl, const peko__msg *m,
                          const peko_addr *from)
{
    (void)from;
    int64_t now = peko__now_us(nl);
    /* Only an answer to a swap of ours moves the cursor or earns our
     * metadata: an unasked-for response gets neither. */
    uint32_t k = match_request(nl, m);
    bool asked = k < nl->ae_n_out;
    /* An answer that returns our request's time was sent by whoever
     * received the request, at the address we chose (without wall
     * clocks, being asked for is all there is to go on). */
    bool answered = asked && m->echo_us == nl->ae_out[k].sent_us;

    if (m->has_meta) {
        peko__metadata_adopt(nl, m, PEKO_MSG_SWAP_RESPONSE);
    } else if (answered && peko__metadata_is_newer_than(nl, &m->version)) {
        /* The responder holds older metadata: push ours to it. */
        peko__msg push;
        peko__metadata_fill(nl, &push, PEKO_MSG_SWAP_RESPONSE);
        peko__send_msg(nl, &push, &nl->ae_out[k].to);
    }

    size_t n;
    listed *l = read_entries(nl, m, 0, &n);
    uint32_t live_before = peko__peers_live(&nl->peers);
    const listed *unknown =
        apply_entries(nl, l, n, PEKO_MSG_SWAP_RESPONSE, &m->sender, now);
    bool brought_peers = peko__peers_live(&nl->peers) > live_before;
    if (answered)
        note_missing(nl, unknown, &nl->ae_out[k].to);
    listed_free(nl, l);

    if (!asked)
        return;
    if (answered && m->echo_us != 0)
        peko__verify_mark(nl, &nl->ae_out[k].to);
    /* Our request's time came back with the responder's: its clock's
     * offset from ours, to within half the round trip. */
    uint64_t now_wall = m->echo_us && m->sent_us ? peko__wall_us(nl) : 0;
    if (now_wall != 0 && now_wall >= m->echo_us &&
        now_wall - m->echo_us < INT64_MAX / 2) {
        int64_t rtt = (int64_t)(now_wall - m->echo_us);
        int64_t offset = (int64_t)(m->sent_us - m->echo_us) - rtt / 2;
        PEKO__OBSERVE(nl, clock_offset, &m->sender, offset, rtt / 2 + 1);
    }
    /* An answer cut short by Size: continue where it ended, at once if
     * it left a gap (above), else with the next range. */
    if (m->has_range && nl->ae_out[k].has_range &&
        m->range_first == nl->ae_out[k].range_first &&
        m->range_last != nl->ae_out[k].range_last) {
        /* An answer that claims to end outside the range asked leaves
         * no gap this node knows of. */
        if (brought_peers && peko__strategy_of(nl)->fills_gaps &&
            peko__range_contains(m->range_first, nl->ae_out[k].range_last,
                                 m->range_last))
            gap_split(nl, &nl->ae_out[k].to, m->range_first, m->range_last,
                      nl->ae_out[k].range_last);
        else
            nl->ae_cursor = m->range_last + 1;
    }
    nl->ae_out[k] = nl->ae_out[--nl->ae_n_out];
}
