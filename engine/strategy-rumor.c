/* strategy-rumor.c: pekonode's dissemination, and peko's forward-once
 * variant of it with anti-entropy (strategy.h).
 *
 * Every cycle a node sends a heartbeat rumor about itself to `amount`
 * peers, and one swap request to a random peer. A receiver forwards a
 * rumor to `amount` peers not yet in its infected set: `classic` every
 * copy it receives (pekonode), `rumor` only the first. Classic's swap is
 * pekonode's, metadata only; rumor's also carries heartbeat versions, so
 * a heartbeat its rumor missed is repaired a cycle or two later
 * (antientropy.c).
 */
#include "strategy.h"

/* ------------------------------------------------------------------ */
/* The swap: pekonode's anti-entropy of the metadata.                   */

static void swap_send(peko_nodelist *nl, peko_msg_type type,
                      const peko_addr *to, const peko_addr *requester,
                      const peko_addr *responder, const peko__msg *request)
{
    peko__msg msg;
    peko__metadata_fill(nl, &msg, type);
    size_t n_bytes;
    uint8_t *tx = peko__encode(nl, &msg, to, &n_bytes);
    if (tx == NULL)
        return;
    peko__print_swap(nl, type == PEKO_MSG_SWAP_REQUEST, requester, responder);
    peko__send_packet(nl, type, to, tx, n_bytes, request);
    peko__work_return(nl, tx);
}

static void swap_start(peko_nodelist *nl)
{
    if (nl->peers.n == 0)
        return;
    const peko__peer *peer =
        peko__peers_entry(&nl->peers, peko__draw_peer_entry(nl));
    swap_send(nl, PEKO_MSG_SWAP_REQUEST, peko__peer_addr(&nl->peers, peer), peko__self_addr(nl),
              peko__peer_addr(&nl->peers, peer), NULL);
}

/* pekonode: the responder adopts a newer version from the request, then
 * answers with what it holds. */
static void swap_request(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from)
{
    (void)from;
    peko__metadata_adopt(nl, m, PEKO_MSG_SWAP_REQUEST);
    swap_send(nl, PEKO_MSG_SWAP_RESPONSE, &m->sender, &m->sender,
              peko__self_addr(nl), m);
}

static void swap_response(peko_nodelist *nl, const peko__msg *m,
                          const peko_addr *from)
{
    (void)from;
    peko__metadata_adopt(nl, m, PEKO_MSG_SWAP_RESPONSE);
}

/* ------------------------------------------------------------------ */
/* Cycles and rumors.                                                   */

static void heartbeat_rumor(peko_nodelist *nl, int64_t now_us)
{
    if (nl->running) {
        peko__msg msg;
        peko__heartbeat_next(nl, now_us, &msg);
        peko__spread(nl, &msg, NULL, 0);
    }
}

static void classic_cycle(peko_nodelist *nl, int64_t now_us)
{
    heartbeat_rumor(nl, now_us);
    swap_start(nl);
}

/* Asks `amount` peers other than the swap's (entry e) about the
 * heartbeats this node missed, if it missed any. */
static void ask_about_stale(peko_nodelist *nl, int64_t now_us, uint32_t e)
{
    int64_t cycle = nl->config.cycle_us;
    int64_t before_us = now_us - cycle - cycle / 2;
    if (!peko__ae_has_stale(nl, before_us))
        return;
    /* Two heartbeats missed: the next sweep may be the last chance. */
    bool urgent = peko__ae_has_stale(nl, before_us - cycle);
    uint32_t want = (uint32_t)nl->config.amount * (urgent ? 2 : 1) + 1;
    if (want > PEKO__AE_OUTSTANDING)
        want = PEKO__AE_OUTSTANDING;
    uint32_t chosen[PEKO__AE_OUTSTANDING];
    chosen[0] = e;
    uint32_t n = peko__draw_distinct_peers(nl, want, chosen, 1);
    /* Peers never heard from are shared out among the asks, one each. */
    uint32_t unheard[PEKO__STALE_LOOK];
    uint32_t n_unheard = peko__ae_unheard(nl, before_us, unheard);
    for (uint32_t k = 1; k < n; k++)
        peko__ae_ask_stale(nl, chosen[k], before_us,
                           n_unheard ? unheard[(k - 1) % n_unheard]
                                     : PEKO__ENTRY_NONE);
}

/* A heartbeat rumor misses a node now and then (a forward-once rumor
 * reaches about 94 % of the nodes without loss, fewer with it), and
 * three missed in a row remove a live node. The cycle's swap repairs
 * most; what it does not, the asks do: a peer not refreshed for a cycle
 * and a half missed at least one heartbeat, and `amount` further peers
 * (twice as many once two were missed) are asked about exactly those
 * entries, every cycle until it is refreshed. A wrong removal then needs
 * every one of about ten asks over two cycles to fail as well as three
 * heartbeats in a row. A peer listed (a seed) but never heard from for a
 * cycle and a half counts too: having no version, it is named by its
 * fingerprint (antientropy.c). Small packets, and only when something
 * was missed: a few per cycle against the f x N of the heartbeats. */
static void rumor_cycle(peko_nodelist *nl, int64_t now_us)
{
    heartbeat_rumor(nl, now_us);
    peko__ae_new_cycle(nl);
    if (peko__peers_live(&nl->peers) > 0) {
        uint32_t e = peko__draw_peer_entry(nl);
        peko__ae_request(nl, e);
        ask_about_stale(nl, now_us, e);
    }
    peko__reconnect_cycle(nl, now_us);
}

const peko__strategy peko__strategy_classic = {
    .id = PEKO_DISSEMINATION_CLASSIC,
    .name = "classic",
    .cycle = classic_cycle,
    .rumor_first = peko__forward,
    .rumor_copy = peko__forward,
    .swap_request = swap_request,
    .swap_response = swap_response,
    .copies_add_nodes = true,
};

const peko__strategy peko__strategy_rumor = {
    .id = PEKO_DISSEMINATION_RUMOR,
    .name = "rumor",
    .cycle = rumor_cycle,
    .rumor_first = peko__forward,
    .rumor_copy = peko__ignore,
    .swap_request = peko__ae_on_request,
    .swap_response = peko__ae_on_response,
    .ordered = true,
};

const peko__strategy *const peko__strategies[PEKO_DISSEMINATION_COUNT] = {
    [PEKO_DISSEMINATION_RUMOR] = &peko__strategy_rumor,
    [PEKO_DISSEMINATION_CLASSIC] = &peko__strategy_classic,
    [PEKO_DISSEMINATION_DIGEST] = &peko__strategy_digest,
};
