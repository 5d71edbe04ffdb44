/* fresh.c: with a key, no packet is accepted twice, none written for
 * another node and none written for an earlier life of the receiver
 * (docs/wire.md, "Freshness"; the threat model: docs/protocol.md, "On a
 * hostile network").
 *
 * The MAC proves who wrote a packet, not when nor for whom. So a signed
 * packet's trailer carries three freshness fields, covered by the MAC:
 *
 *   - the sender's packet number: one sequence for all its signed
 *     packets, one more for each, starting when its engine starts at its
 *     wall clock in microseconds. Numbers thus grow from one run of a
 *     node to the next without any state kept across runs (a run sends
 *     far fewer than a million packets a second);
 *   - the receiver tag: a 32-bit hash of the receiver's address and
 *     incarnation, as the sender knows them. A receiver that restarted
 *     has forgotten what it accepted, but a packet tagged for its new
 *     incarnation was written after it started; and a packet tagged for
 *     one node is refused by every other;
 *   - the sender's incarnation, from which receivers learn how to tag
 *     their packets to it.
 *
 * The receiver keeps, per sender (the address the body names, which the
 * MAC covers), the highest number it accepted and a 64-packet window
 * below it, as IPsec's ESP does (RFC 4303, section 3.4.3). A packet
 * tagged for this node as it is now is accepted if its number is above
 * the highest (the window slides) or within the window and not yet seen;
 * any other is a replay. Without a window for the sender (a restart, a
 * new sender), a packet tagged for this node opens one; one tagged for
 * another incarnation is refused and its sender challenged, so that it
 * learns this one. Windows change only for packets whose MAC verified
 * and whose body decoded: nothing an outsider sends moves them.
 *
 * A sender that does not know its receiver's incarnation (a seed it was
 * given, an address it never heard from) cannot tag a packet for it. It
 * parks the packet (a few per node, for a couple of cycles), and sends a
 * *hello*: a challenge tagged 0, which the receiver answers with an echo
 * whatever it knows (once it has a window for the sender, a hello is
 * judged by its number like any packet). The echo repeats the
 * challenge's nonce, random and recent, so it is fresh: it opens the
 * window and tells the incarnation, and the parked packets leave. Each
 * challenge sent is answered once: an echo more answers a challenge we
 * did not send (a replayed one), and is refused.
 *
 * Memory: the table holds at most max_members + FRESH_EXTRA senders, 56
 * bytes each, and forgets the least recently used (CLOCK) beyond that. A
 * forgotten window cannot be trusted to be remembered as empty, so its
 * fingerprint bucket is marked, and a sender in a marked bucket opens a
 * new window only by an echo to our own challenge, with everything below
 * that echo's number counted as seen. Challenges are rare and kept apart,
 * FRESH_CHALLENGES at most. Everything lives in a side structure,
 * allocated with the first signed packet: an unkeyed node pays
 * nothing.
 *
 * A sender whose clock went back across a restart (numbers below what
 * its receivers remember, under a new incarnation) is challenged; its
 * echo, fresh by its nonce, resets the window, and numbers of any other
 * incarnation up to where the old window stood stay refused.
 */
#include <string.h>

#include "strategy.h"

#define FRESH_WINDOW 64          /* bits of the anti-replay window */
#define FRESH_EXTRA 256          /* senders beyond max_members: seeds,
                                  * nodes not (or no longer) listed */
#define FRESH_PARKED_MAX 8       /* packets held per node */
#define FRESH_PARK_CYCLES 2      /* and for at most this many cycles */
#define FRESH_BUCKET_BITS 12     /* buckets of forgotten windows */
#define FRESH_NONCE_CYCLES 4     /* a challenge's nonce lives this many
                                  * cycles, and at least FRESH_NONCE_US */
#define FRESH_NONCE_US (4 * 1000000LL)
#define FRESH_CHALLENGES 256     /* challenges remembered at most */

#define ENTRY_WINDOW 0x01u       /* high and window are meaningful */
#define ENTRY_REF 0x02u          /* used since the CLOCK hand passed */

typedef struct fresh_entry {
    peko_addr addr;
    uint32_t fp;             /* peko_addr_fingerprint(addr); 0: free */
    uint64_t high;           /* the highest number accepted */
    uint64_t window;         /* bit i: number high - i was accepted */
    uint64_t ceiling;        /* after a reset: numbers up to here of any
                              * other incarnation stay refused (0: none) */
    uint32_t incarnation;    /* of its latest packet accepted; 0: unknown */
    uint8_t flags;
} fresh_entry;
G_STATIC_ASSERT(sizeof(fresh_entry) <= 56);

/* A challenge of ours, to the sender `addr`: rare (hellos, refusals), so
 * kept apart from the windows, in a small list. */
typedef struct fresh_challenge {
    peko_addr addr;
    uint32_t challenged;     /* cycles + 1 when last sent; 0: free */
    uint64_t nonce;
    int64_t nonce_us;        /* when it was drawn (now_us) */
    int64_t sent_us;         /* when a challenge last carried it */
    uint32_t answers;        /* echoes it may still be answered by: one per
                              * challenge sent with it */
} fresh_challenge;

typedef struct fresh_parked {
    peko_addr to;
    peko_msg_type type;
    uint8_t *bytes;          /* owned: header and body, trailer unsealed */
    size_t n_bytes;
    uint64_t cycle;          /* nl->cycles when parked */
} fresh_parked;

struct peko__fresh {
    fresh_entry *slots;      /* cap slots, open addressing, linear probes */
    uint32_t cap;            /* a power of two, or 0 */
    uint32_t n;
    uint32_t hand;           /* the CLOCK hand */
    uint64_t forgotten[(1u << FRESH_BUCKET_BITS) / 64]; /* buckets whose
                              * sender lost a window */
    fresh_parked parked[FRESH_PARKED_MAX]; /* oldest first */
    uint32_t n_parked;
    fresh_challenge *challenges; /* n_challenges used of cap_challenges */
    uint32_t n_challenges;
    uint32_t cap_challenges;
};

/* ------------------------------------------------------------------ */
/* The table.                                                           */

static peko__fresh *fresh_of(peko_nodelist *nl)
{
    if (nl->fresh == NULL)
        nl->fresh = g_new0(peko__fresh, 1);
    return nl->fresh;
}

static uint32_t max_entries(const peko_nodelist *nl)
{
    return (uint32_t)nl->config.max_members + FRESH_EXTRA;
}

static inline uint32_t bucket_of(uint32_t fp)
{
    return fp >> (32 - FRESH_BUCKET_BITS);
}

static bool bucket_forgotten(const peko__fresh *f, uint32_t fp)
{
    uint32_t b = bucket_of(fp);
    return (f->forgotten[b / 64] >> (b % 64)) & 1;
}

static fresh_entry *find(const peko__fresh *f, const peko_addr *addr,
                         uint32_t fp)
{
    if (f->cap == 0)
        return NULL;
    uint32_t mask = f->cap - 1;
    for (uint32_t s = fp & mask;; s = (s + 1) & mask) {
        fresh_entry *e = &f->slots[s];
        if (e->fp == 0)
            return NULL;
        if (e->fp == fp && peko_addr_equal(&e->addr, addr))
            return e;
    }
}

static void place(peko__fresh *f, const fresh_entry *e)
{
    uint32_t mask = f->cap - 1;
    uint32_t s = e->fp & mask;
    while (f->slots[s].fp != 0)
        s = (s + 1) & mask;
    f->slots[s] = *e;
}

static void grow(peko__fresh *f)
{
    fresh_entry *old = f->slots;
    uint32_t old_cap = f->cap;
    f->cap = old_cap ? 2 * old_cap : 16;
    f->slots = g_new0(fresh_entry, f->cap);
    for (uint32_t s = 0; s < old_cap; s++)
        if (old[s].fp != 0)
            place(f, &old[s]);
    g_free(old);
}

/* Empties slot s, moving back the later entries of its probe run
 * (backward-shift deletion: no tombstones). */
static void remove_slot(peko__fresh *f, uint32_t s)
{
    uint32_t mask = f->cap - 1;
    uint32_t hole = s;
    for (uint32_t j = (s + 1) & mask; f->slots[j].fp != 0;
         j = (j + 1) & mask) {
        uint32_t home = f->slots[j].fp & mask;
        /* The entry at j may fill the hole if its home is not in the
         * cyclic interval (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j)
                               : (home > hole || home <= j);
        if (!stays) {
            f->slots[hole] = f->slots[j];
            hole = j;
        }
    }
    memset(&f->slots[hole], 0, sizeof f->slots[hole]);
    f->n--;
}

/* Forgets one sender, the first the CLOCK hand finds unused since it last
 * passed (two turns at most find one). */
static void evict(peko_nodelist *nl, peko__fresh *f)
{
    for (;;) {
        uint32_t s = f->hand;
        f->hand = (f->hand + 1) & (f->cap - 1);
        fresh_entry *e = &f->slots[s];
        if (e->fp == 0)
            continue;
        if (e->flags & ENTRY_REF) {
            e->flags &= (uint8_t)~ENTRY_REF;
            continue;
        }
        if (e->flags & ENTRY_WINDOW) {
            uint32_t b = bucket_of(e->fp);
            f->forgotten[b / 64] |= 1ull << (b % 64);
        }
        nl->stats.fresh_evicted++;
        remove_slot(f, s);
        return;
    }
}

/* The entry of `addr`, created (empty) if there is none. */
static fresh_entry *get(peko_nodelist *nl, const peko_addr *addr)
{
    peko__fresh *f = fresh_of(nl);
    uint32_t fp = peko_addr_fingerprint(addr);
    fresh_entry *e = find(f, addr, fp);
    if (e == NULL) {
        if (f->n >= max_entries(nl))
            evict(nl, f);
        if ((uint64_t)(f->n + 1) * 4 > (uint64_t)f->cap * 3)
            grow(f);
        fresh_entry fresh = {.addr = *addr, .fp = fp};
        place(f, &fresh);
        f->n++;
        e = find(f, addr, fp);
    }
    e->flags |= ENTRY_REF;
    return e;
}

/* ------------------------------------------------------------------ */
/* Sending.                                                             */

void peko__fresh_init(peko_nodelist *nl)
{
    /* Numbers start at the wall clock, so that they grow from one run to
     * the next; without one, at the incarnation (which must then grow:
     * peko.h). */
    uint64_t wall = peko__wall_us(nl);
    nl->fresh_number = wall > 0 ? wall : (uint64_t)nl->incarnation << 32;
    nl->fresh_tag = peko__receiver_tag(peko__self_addr(nl), nl->incarnation);
}

void peko__fresh_free(peko_nodelist *nl)
{
    peko__fresh *f = nl->fresh;
    if (f == NULL)
        return;
    for (uint32_t i = 0; i < f->n_parked; i++)
        g_free(f->parked[i].bytes);
    g_free(f->slots);
    g_free(f->challenges);
    g_free(f);
    nl->fresh = NULL;
}

/* The incarnation of the node at `to` as this node knows it (0: not at
 * all): that of its latest packet to us, or of its newest heartbeat we
 * heard of from others, whichever is newer. */
static uint32_t known_incarnation(peko_nodelist *nl, const peko_addr *to)
{
    uint32_t inc = 0;
    if (nl->fresh != NULL) {
        const fresh_entry *e =
            find(nl->fresh, to, peko_addr_fingerprint(to));
        if (e != NULL)
            inc = e->incarnation;
    }
    const peko__peer *p = peko__peer_find(nl, to);
    if (p != NULL && peko__peer_has_heartbeat(p) && p->incarnation != 0 &&
        (inc == 0 || (int32_t)(p->incarnation - inc) > 0))
        inc = p->incarnation;
    return inc;
}

static int64_t nonce_life_us(const peko_nodelist *nl)
{
    return MAX(FRESH_NONCE_CYCLES * nl->config.cycle_us, FRESH_NONCE_US);
}

/* True while a challenge sent again may reuse the nonce: for a nonce's
 * life after it was drawn. */
static bool nonce_reusable(const peko_nodelist *nl, const fresh_challenge *c,
                           int64_t now_us)
{
    return c->answers > 0 && now_us - c->nonce_us <= nonce_life_us(nl);
}

/* True while an echo of the nonce is fresh: it answers a challenge we
 * sent recently. Counted from the LAST challenge that carried it, not
 * from its draw: one sent again near the end of the nonce's reuse has
 * its whole life to be answered (a partition that healed just then,
 * say); so a nonce is answered at most two lives after it was drawn. */
static bool nonce_live(const peko_nodelist *nl, const fresh_challenge *c,
                       int64_t now_us)
{
    return c->answers > 0 && now_us - c->sent_us <= nonce_life_us(nl);
}

/* Our challenge to `addr`, or NULL. */
static fresh_challenge *find_challenge(const peko__fresh *f,
                                       const peko_addr *addr)
{
    for (uint32_t i = 0; i < f->n_challenges; i++)
        if (peko_addr_equal(&f->challenges[i].addr, addr))
            return &f->challenges[i];
    return NULL;
}

/* Room for our challenge to `addr`: its record, a new one, or, when
 * FRESH_CHALLENGES are kept, the place of the one sent longest ago
 * (whose answer will then be refused: its sender is asked again). */
static fresh_challenge *get_challenge(peko__fresh *f, const peko_addr *addr)
{
    fresh_challenge *c = find_challenge(f, addr);
    if (c != NULL)
        return c;
    if (f->n_challenges < f->cap_challenges) {
        c = &f->challenges[f->n_challenges++];
    } else if (f->cap_challenges < FRESH_CHALLENGES) {
        f->cap_challenges = f->cap_challenges ? 2 * f->cap_challenges : 8;
        f->challenges = g_renew(fresh_challenge, f->challenges,
                                f->cap_challenges);
        c = &f->challenges[f->n_challenges++];
    } else {
        c = &f->challenges[0];
        for (uint32_t i = 1; i < f->n_challenges; i++)
            if (f->challenges[i].nonce_us < c->nonce_us)
                c = &f->challenges[i];
    }
    memset(c, 0, sizeof *c);
    c->addr = *addr;
    return c;
}

/* Sends `to` a challenge about `about` (the sender it concerns): a hello
 * (incarnation 0: not known) or the answer to a packet we refused,
 * tagged for the incarnation it gave. At most one per sender per cycle;
 * a challenge sent again while the previous one may still be answered
 * carries the same nonce, so that its late answer is not taken for a
 * replay. */
static void challenge(peko_nodelist *nl, const peko_addr *about,
                      const peko_addr *to, uint32_t incarnation)
{
    fresh_challenge *c = get_challenge(fresh_of(nl), about);
    uint32_t stamp = (uint32_t)nl->cycles + 1;
    if (c->challenged == stamp)
        return;
    c->challenged = stamp;
    int64_t now = peko__now_us(nl);
    if (!nonce_reusable(nl, c, now)) {
        do
            c->nonce = nl->env->random_u64(nl->env);
        while (c->nonce == 0);
        c->nonce_us = now;
        c->answers = 0;
    }
    c->sent_us = now;
    c->answers++;

    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_CHALLENGE;
    m.sender = (*peko__self_addr(nl));
    m.nonce = c->nonce;
    /* Its own buffer: a hello may be sent while nl->tx holds a rumor on
     * its way to several targets. */
    uint8_t buf[PEKO__WIRE_HEADER_BYTES + 19 + 8 + PEKO__WIRE_AUTH_BYTES];
    size_t n = peko__wire_encode_unsealed(&m, nl->wire_keys, buf, sizeof buf);
    g_assert(n > 0 && peko__wire_is_signed(buf));
    uint32_t tag = incarnation ? peko__receiver_tag(about, incarnation) : 0;
    peko__wire_seal(buf, n, nl->wire_keys, nl->incarnation, tag,
                    ++nl->fresh_number);
    nl->stats.challenges_sent++;
    peko__send_raw(nl, PEKO_MSG_CHALLENGE, to, buf, n);
}

static void park(peko_nodelist *nl, peko_msg_type type, const peko_addr *to,
                 const uint8_t *bytes, size_t n_bytes)
{
    peko__fresh *f = fresh_of(nl);
    if (f->n_parked == FRESH_PARKED_MAX) {
        g_free(f->parked[0].bytes);
        memmove(&f->parked[0], &f->parked[1],
                (FRESH_PARKED_MAX - 1) * sizeof f->parked[0]);
        f->n_parked--;
        nl->stats.parked_dropped++;
    }
    f->parked[f->n_parked++] = (fresh_parked){
        .to = *to,
        .type = type,
        .bytes = g_memdup2(bytes, n_bytes),
        .n_bytes = n_bytes,
        .cycle = nl->cycles,
    };
    nl->stats.parked++;
}

bool peko__fresh_seal(peko_nodelist *nl, peko_msg_type type,
                      const peko_addr *to, uint8_t *bytes, size_t n_bytes,
                      const peko__msg *request)
{
    /* A reply is for the requester as it named itself, in the incarnation
     * its request came from. */
    const peko_addr *peer = request ? &request->sender : to;
    uint32_t inc = request ? request->auth_incarnation
                           : known_incarnation(nl, peer);
    if (inc == 0 && type != PEKO_MSG_CHALLENGE) {
        park(nl, type, to, bytes, n_bytes);
        challenge(nl, to, to, 0);
        return false;
    }
    uint32_t tag = inc ? peko__receiver_tag(peer, inc) : 0;
    peko__wire_seal(bytes, n_bytes, nl->wire_keys, nl->incarnation, tag,
                    ++nl->fresh_number);
    return true;
}

/* Sends the packets parked for `to`, now that its incarnation is known
 * (the order they were parked in). */
static void unpark(peko_nodelist *nl, const peko_addr *to)
{
    peko__fresh *f = nl->fresh;
    uint32_t inc = known_incarnation(nl, to);
    if (inc == 0)
        return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < f->n_parked; i++) {
        fresh_parked p = f->parked[i];
        if (!peko_addr_equal(&p.to, to)) {
            f->parked[k++] = p;
            continue;
        }
        /* Known now: sealed, never parked again (the list is stable). */
        peko__wire_seal(p.bytes, p.n_bytes, nl->wire_keys, nl->incarnation,
                        peko__receiver_tag(to, inc), ++nl->fresh_number);
        peko__send_raw(nl, p.type, &p.to, p.bytes, p.n_bytes);
        g_free(p.bytes);
    }
    f->n_parked = k;
}

void peko__fresh_cycle(peko_nodelist *nl)
{
    peko__fresh *f = nl->fresh;
    if (f == NULL)
        return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < f->n_parked; i++) {
        if (f->parked[i].cycle + FRESH_PARK_CYCLES <= nl->cycles) {
            g_free(f->parked[i].bytes);
            nl->stats.parked_dropped++;
        } else {
            f->parked[k++] = f->parked[i];
        }
    }
    f->n_parked = k;
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                           */

/* The sender's incarnation, from a packet just accepted as its latest:
 * packets parked for it can leave. */
static void learn(peko_nodelist *nl, fresh_entry *e, uint32_t incarnation)
{
    if (incarnation == 0 || e->incarnation == incarnation)
        return;
    e->incarnation = incarnation;
    peko_addr addr = e->addr; /* unpark may move entries */
    if (nl->fresh->n_parked > 0)
        unpark(nl, &addr);
}

/* Accepts number n into e's window. */
static void slide(fresh_entry *e, uint64_t n)
{
    if (!(e->flags & ENTRY_WINDOW)) {
        e->flags |= ENTRY_WINDOW;
        e->high = n;
        e->window = 1;
        return;
    }
    if (n > e->high) {
        uint64_t d = n - e->high;
        e->window = d >= FRESH_WINDOW ? 1 : (e->window << d) | 1;
        e->high = n;
    } else if (e->high - n < FRESH_WINDOW) {
        e->window |= 1ull << (e->high - n);
    }
}

/* Our challenge that an echo answers: one to its sender with its nonce,
 * drawn recently, so the echo was written since. Each challenge sent is
 * answered once: an echo more answers a challenge we did not send (a
 * replayed one). NULL if none. */
static fresh_challenge *answered(peko_nodelist *nl, const peko__msg *m)
{
    fresh_challenge *c = find_challenge(nl->fresh, &m->sender);
    if (c == NULL || !nonce_live(nl, c, peko__now_us(nl)) ||
        m->nonce != c->nonce)
        return NULL;
    return c;
}

peko_reject peko__fresh_check(peko_nodelist *nl, const peko__msg *m,
                              bool *ask)
{
    *ask = false;
    /* We never send to ourselves: a packet naming us as its sender is one
     * of ours, sent back. */
    if (peko_addr_equal(&m->sender, peko__self_addr(nl)))
        return PEKO_REJECT_REPLAY;
    fresh_entry *e = get(nl, &m->sender);
    uint64_t n = m->auth_number;
    uint32_t inc = m->auth_incarnation;
    bool for_us = m->auth_receiver == nl->fresh_tag;
    /* A hello: a challenge from a sender that does not know our
     * incarnation, so it cannot tag it for us. */
    bool hello = m->type == PEKO_MSG_CHALLENGE && m->auth_receiver == 0;

    if (m->type == PEKO_MSG_ECHO) {
        fresh_challenge *c = answered(nl, m);
        if (c == NULL)
            return PEKO_REJECT_REPLAY; /* answers no challenge of ours */
        if (!(e->flags & ENTRY_WINDOW)) {
            slide(e, n);
            /* Numbers below it may have been accepted by a window since
             * forgotten. */
            if (bucket_forgotten(nl->fresh, e->fp))
                e->window = ~0ull;
        } else if (n > e->high ||
                   (e->high - n < FRESH_WINDOW &&
                    !((e->window >> (e->high - n)) & 1))) {
            slide(e, n);
        } else if (inc != e->incarnation) {
            /* A new incarnation below our window: its clock went back.
             * What the old window saw, of any other incarnation, stays
             * refused. */
            e->ceiling = MAX(e->ceiling, e->high);
            e->high = n;
            e->window = ~0ull;
        } else {
            return PEKO_REJECT_REPLAY; /* this echo, again */
        }
        c->answers--;
        learn(nl, e, inc);
        return PEKO_REJECT_NONE;
    }

    if (!(e->flags & ENTRY_WINDOW)) {
        if (for_us && !bucket_forgotten(nl->fresh, e->fp)) {
            slide(e, n);
            learn(nl, e, inc);
            return PEKO_REJECT_NONE;
        }
        /* A hello, without a window to judge it by: answered, and
         * nothing else (it changes nothing here but that answer). */
        if (hello)
            return PEKO_REJECT_NONE;
        /* Tagged for an earlier incarnation of ours (or, in a forgotten
         * bucket, perhaps accepted already): tell its sender who we are
         * now, or have it prove itself. */
        *ask = true;
        return PEKO_REJECT_REPLAY;
    }

    if (!(for_us || hello) || (e->ceiling != 0 && inc != e->incarnation &&
                               n <= e->ceiling)) {
        /* Written for another node or another life of ours, or by an
         * earlier run of a sender whose clock went back. (A hello is
         * judged by its number, as any packet: its sender may only have
         * lost track of us.) */
        *ask = true;
        return PEKO_REJECT_REPLAY;
    }
    if (n > e->high) {
        slide(e, n);
        learn(nl, e, inc);
        return PEKO_REJECT_NONE;
    }
    uint64_t d = e->high - n;
    if (d < FRESH_WINDOW && !((e->window >> d) & 1)) {
        slide(e, n);
        return PEKO_REJECT_NONE;
    }
    /* A duplicate, or older than the window. Of another incarnation, it
     * may also be its sender restarted with its clock behind: ask. */
    *ask = inc != e->incarnation;
    return PEKO_REJECT_REPLAY;
}

void peko__fresh_refused(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from)
{
    peko_addr to;
    if (peko__reply_address(nl, m, from, &to))
        challenge(nl, &m->sender, &to, m->auth_incarnation);
}
