/* packets.c: the packet pool of packets.h. */
#include "packets.h"
#include "mem.h"

#include <glib.h>
#include <stdbool.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SIM_PACKETS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_PACKETS_ASAN 1
#endif
#endif

#ifdef SIM_PACKETS_ASAN
#include <sanitizer/asan_interface.h>
/* A free buffer is poisoned but for its link, so a use after
 * sim_evq_packet_free() still trips AddressSanitizer. */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define PAGE_BYTES ((size_t)64 << 10) /* aligned to its size */
#define PAGE_HEADER_BYTES 64          /* one line, then the buffers */
#define LINK_BYTES sizeof(void *)     /* a free buffer's first word */

struct sim_packet_page {
    sim_packet_page *prev, *next; /* in its class's room, or free_pages */
    void *free;                   /* freed buffers, through their link */
    uint32_t out;                 /* buffers handed out */
    uint32_t carved;              /* buffers used at least once; the
                                   * rest of the page is untouched */
    uint32_t capacity;            /* buffers of its class it holds */
    uint16_t size_class;
    bool in_room;                 /* linked in room[size_class] */
};
G_STATIC_ASSERT(sizeof(sim_packet_page) <= PAGE_HEADER_BYTES);
G_STATIC_ASSERT(sizeof(sim_packet) <= LINK_BYTES);

/* Class c = 4o + j is 64 << o times (4 + j) / 4: every size a multiple
 * of 16, so buffers carved side by side stay aligned. */
static inline size_t class_size(unsigned c)
{
    return ((size_t)64 << (c / 4)) / 4 * (4 + c % 4);
}

#define LARGEST_CLASS_BYTES (((size_t)64 << 9) / 4 * 7) /* 57,344 */
G_STATIC_ASSERT(LARGEST_CLASS_BYTES <= PAGE_BYTES - PAGE_HEADER_BYTES);
G_STATIC_ASSERT(SIM_PACKET_CLASSES == 40);

/* The smallest class whose size is at least total (which is at most the
 * largest class's). */
static inline unsigned class_of(size_t total)
{
    if (total <= 64)
        return 0;
    /* total lies in (64 << o, 128 << o]: past the octave's start by
     * r in (0, 64 << o], in steps of 16 << o. */
    unsigned o = (unsigned)(63 - __builtin_clzll(total - 1)) - 6;
    size_t r = total - ((size_t)64 << o);
    return 4 * o + (unsigned)((r - 1) >> (4 + o)) + 1;
}

static inline uint32_t page_capacity(unsigned c)
{
    return (uint32_t)((PAGE_BYTES - PAGE_HEADER_BYTES) / class_size(c));
}

static inline sim_packet_page *page_of(const sim_packet *pkt)
{
    return (sim_packet_page *)((uintptr_t)pkt & ~(uintptr_t)(PAGE_BYTES - 1));
}

static void room_link(sim_packet_pool *pool, sim_packet_page *pg)
{
    sim_packet_page **head = &pool->room[pg->size_class];
    pg->prev = NULL;
    pg->next = *head;
    if (*head)
        (*head)->prev = pg;
    *head = pg;
    pg->in_room = true;
}

static void room_unlink(sim_packet_pool *pool, sim_packet_page *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        pool->room[pg->size_class] = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    pg->in_room = false;
}

/* A page never used, from a new chunk when the last is spent. Chunks
 * double from one page up to a huge page. */
static sim_packet_page *page_unused(sim_packet_pool *pool)
{
    if (pool->unused_pages == 0) {
        size_t n_bytes = pool->next_chunk_bytes ? pool->next_chunk_bytes
                                                : PAGE_BYTES;
        pool->next_chunk_bytes = MIN(2 * n_bytes, SIM_MEM_HUGE);
        char *mem = sim_mem_alloc_aligned(n_bytes, PAGE_BYTES);
        if (pool->n_chunks == pool->chunks_cap) {
            pool->chunks_cap = pool->chunks_cap ? 2 * pool->chunks_cap : 16;
            pool->chunks = g_renew(void *, pool->chunks, pool->chunks_cap);
        }
        pool->chunks[pool->n_chunks++] = mem;
        pool->chunk_bytes += n_bytes;
        pool->unused = mem;
        pool->unused_pages = n_bytes / PAGE_BYTES;
        POISON(mem, n_bytes);
    }
    sim_packet_page *pg = (sim_packet_page *)pool->unused;
    pool->unused += PAGE_BYTES;
    pool->unused_pages--;
    return pg;
}

/* A page for class c, put in its room: a free one, else one never used. */
static sim_packet_page *page_for(sim_packet_pool *pool, unsigned c)
{
    sim_packet_page *pg = pool->free_pages;
    if (pg != NULL)
        pool->free_pages = pg->next;
    else
        pg = page_unused(pool);
    UNPOISON(pg, PAGE_HEADER_BYTES);
    *pg = (sim_packet_page){.capacity = page_capacity(c),
                            .size_class = (uint16_t)c};
    room_link(pool, pg);
    pool->room_buffers += pg->capacity;
    return pg;
}

sim_packet *sim_packet_pool_take(sim_packet_pool *pool, size_t n_bytes)
{
    size_t total = sizeof(sim_packet) + n_bytes;
    sim_packet *pkt;
    if (n_bytes > UINT32_MAX)
        g_error("sim: packet of %zu bytes", n_bytes);
    if (total > LARGEST_CLASS_BYTES) {
        pkt = g_malloc(total);
        pkt->size_class = SIM_PACKET_UNPOOLED;
        pool->unpooled_bytes += total;
    } else {
        unsigned c = class_of(total);
        size_t size = class_size(c);
        sim_packet_page *pg = pool->hot[c];
        if (pg == NULL || !pg->in_room) {
            pg = pool->room[c] ? pool->room[c] : page_for(pool, c);
            pool->hot[c] = pg;
        }
        if (pg->free != NULL) {
            pkt = pg->free;
            UNPOISON(pkt, LINK_BYTES);
            memcpy(&pg->free, pkt, LINK_BYTES);
            /* The caller writes the bytes next; the buffer after this
             * one is for the next allocation: start fetching it. */
            if (pg->free)
                __builtin_prefetch(pg->free, 1);
        } else {
            pkt = (sim_packet *)((char *)pg + PAGE_HEADER_BYTES +
                                 pg->carved++ * size);
        }
        UNPOISON(pkt, size);
        pg->out++;
        pool->room_buffers--;
        if (pg->free == NULL && pg->carved == pg->capacity)
            room_unlink(pool, pg);
        pkt->size_class = (uint16_t)c;
    }
    pkt->n_bytes = (uint32_t)n_bytes;
    pkt->shares = 0;
    pool->out++;
    return pkt;
}

void sim_packet_pool_give(sim_packet_pool *pool, sim_packet *pkt)
{
    g_assert(pool->out > 0);
    pool->out--;
    if (pkt->size_class == SIM_PACKET_UNPOOLED) {
        pool->unpooled_bytes -= sizeof(sim_packet) + pkt->n_bytes;
        g_free(pkt);
        return;
    }
    sim_packet_page *pg = page_of(pkt);
    g_assert(pkt->size_class == pg->size_class && pg->out > 0);
    memcpy(pkt, &pg->free, LINK_BYTES);
    pg->free = pkt;
    POISON(pkt, class_size(pg->size_class));
    pg->out--;
    pool->room_buffers++;
    if (!pg->in_room)
        room_link(pool, pg);
    if (pg->out > 0) {
        pool->hot[pg->size_class] = pg;
        return;
    }
    /* Every buffer is back: the page is any class's now. */
    room_unlink(pool, pg);
    if (pool->hot[pg->size_class] == pg)
        pool->hot[pg->size_class] = NULL;
    pool->room_buffers -= pg->capacity;
    pg->next = pool->free_pages;
    pool->free_pages = pg;
}

void sim_packet_pool_clear(sim_packet_pool *pool)
{
    for (size_t k = 0; k < pool->n_chunks; k++)
        sim_mem_free(pool->chunks[k]);
    g_free(pool->chunks);
    memset(pool, 0, sizeof *pool);
}

size_t sim_packet_pool_bytes(const sim_packet_pool *pool)
{
    return pool->chunk_bytes + pool->chunks_cap * sizeof(void *) +
           pool->unpooled_bytes;
}

size_t sim_evq_packet_footprint(size_t n_bytes)
{
    size_t total = sizeof(sim_packet) + n_bytes;
    if (total > LARGEST_CLASS_BYTES)
        return total;
    return PAGE_BYTES / page_capacity(class_of(total));
}

size_t sim_evq_packet_capacity(const sim_packet *pkt)
{
    if (pkt->size_class == SIM_PACKET_UNPOOLED)
        return pkt->n_bytes;
    return class_size(pkt->size_class) - sizeof(sim_packet);
}
