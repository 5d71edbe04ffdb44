/* packets.h: the buffers of packets in flight, pooled for the event
 * queue (evq.h holds one pool and hands its buffers out).
 *
 * A buffer's size is one of 40 classes, four a doubling from 64 bytes
 * (64 << o times 4/4, 5/4, 6/4 and 7/4): at most a quarter larger than
 * its packet and header, so a 130-byte heartbeat takes 160 bytes and a
 * 16 KiB swap 20 KiB. Larger packets (over 56 KiB) take a g_malloc each.
 *
 * Buffers are carved from 64 KiB pages, each holding one class. A page
 * whose buffers are all back goes to a list that every class takes from,
 * so the memory held follows the bytes in flight as their sizes drift (a
 * rumor's packets grow by a few entries a hop; a swap comes in any size
 * up to Size) instead of each class keeping its own high-water mark: in
 * a burst where every node forwards at once, the classes' separate peaks
 * added up to 2.7 times the peak of what was in flight (docs/simulator.md,
 * "Packets in flight").
 *
 * A class allocates from the page of its latest free, newest freed
 * buffer first: a delivery's forward reuses the buffer of the delivery
 * before it, which is still in cache. Freed buffers are linked through
 * their first word, so freeing reads and writes only the buffer and its
 * page's first line. Pages come from chunks that double from one page to
 * a huge page (mem.h), so a small world holds little. Nothing is returned
 * to the system before sim_packet_pool_clear().
 *
 * Bound: memory. The pages taken from the system are the most that ever
 * had a buffer out at once; a page is held by its class while any of its
 * buffers is out, so a few long-lived packets (held for a paused node)
 * keep their pages. Buffers over 56 KiB are freed when their packet is.
 */
#ifndef SIM_PACKETS_H
#define SIM_PACKETS_H

#include <stddef.h>
#include <stdint.h>

/* A pooled packet buffer: n_bytes of bytes[], capacity fixed by its size
 * class. Obtain one with sim_evq_packet_new() (evq.h), hand it to an
 * event (the queue then owns it), get it back from sim_evq_pop() (the
 * caller then owns it) and return it with sim_evq_packet_free(). A buffer
 * may have several holders (sim_evq_packet_share()): its bytes are then
 * read-only, and it returns to its pool when the last holder frees it. */
#define SIM_PACKET_CLASSES 40          /* 64, 80, 96, 112, 128, 160 ...
                                        * 57,344 bytes */
#define SIM_PACKET_UNPOOLED UINT16_MAX /* larger: its own allocation */
typedef struct sim_packet {
    uint32_t n_bytes;             /* bytes used */
    uint16_t size_class;          /* pool class, or SIM_PACKET_UNPOOLED */
    uint16_t shares;              /* holders beyond the first */
    uint8_t bytes[];              /* capacity: class size - header */
} sim_packet;

typedef struct sim_packet_page sim_packet_page;

typedef struct sim_packet_pool {
    /* Each class's pages with a free or never-used buffer, doubly linked
     * (unlinked when full), and the page of its latest free. */
    sim_packet_page *room[SIM_PACKET_CLASSES];
    sim_packet_page *hot[SIM_PACKET_CLASSES];
    sim_packet_page *free_pages;  /* no buffer out: any class's to take */
    /* Chunks of pages, for sim_packet_pool_clear(); the newest one's
     * pages not yet used. */
    void **chunks;
    size_t n_chunks, chunks_cap;
    size_t next_chunk_bytes;
    char *unused;                 /* next page never used, or NULL */
    size_t unused_pages;
    size_t out;                   /* buffers handed out, not yet freed */
    size_t room_buffers;          /* free buffers in pages of a class */
    size_t chunk_bytes;           /* bytes in chunks */
    size_t unpooled_bytes;        /* bytes of buffers of their own */
} sim_packet_pool;

/* A buffer for n_bytes (n_bytes set, bytes not initialized). Aborts on
 * out-of-memory, as g_malloc does. */
sim_packet *sim_packet_pool_take(sim_packet_pool *pool, size_t n_bytes);
/* Returns a buffer whose last holder is done with it. */
void sim_packet_pool_give(sim_packet_pool *pool, sim_packet *pkt);
/* Frees every page. Buffers still out must not be used again. Leaves
 * *pool zeroed: ready for use again. */
void sim_packet_pool_clear(sim_packet_pool *pool);
/* Memory held: pages, chunk bookkeeping and buffers of their own. */
size_t sim_packet_pool_bytes(const sim_packet_pool *pool);

/* The bytes pkt can hold: n_bytes or more. */
size_t sim_evq_packet_capacity(const sim_packet *pkt);
/* The bytes a packet of n_bytes takes, header, its class's rounding and
 * its share of a page included (for memory estimates). */
size_t sim_evq_packet_footprint(size_t n_bytes);

#endif /* SIM_PACKETS_H */
