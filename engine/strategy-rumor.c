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
    size_t n_bytes = peko__wire_encode_unsealed(&msg, nl->wire_keys, nl->tx,
                                                (size_t)nl->config.size);
    if (n_bytes == 0) {
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", to);
        return;
    }
    peko__print_swap(nl, type == PEKO_MSG_SWAP_REQUEST, requester, responder);
    peko__send_packet(nl, type, to, nl->tx, n_bytes, request);
}

static void swap_start(peko_nodelist *nl)
{
    if (nl->peers.n == 0)
        return;
    const peko__peer *peer = &nl->peers.slots[peko__draw_peer_slot(nl)];
    swap_send(nl, PEKO_MSG_SWAP_REQUEST, &peer->addr, &nl->self.addr,
              &peer->addr, NULL);
}

/* pekonode: the responder adopts a newer version from the request, then
 * answers with what it holds. */
static void swap_request(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from)
{
    (void)from;
    peko__metadata_adopt(nl, m, PEKO_MSG_SWAP_REQUEST);
    swap_send(nl, PEKO_MSG_SWAP_RESPONSE, &m->sender, &m->sender,
              &nl->self.addr, m);
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

static void rumor_cycle(peko_nodelist *nl, int64_t now_us)
{
    heartbeat_rumor(nl, now_us);
    peko__ae_new_cycle(nl);
    if (peko__peers_live(&nl->peers) > 0)
        peko__ae_request(nl, peko__draw_peer_slot(nl));
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
