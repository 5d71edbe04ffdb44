/* mem.h: memory for the simulator's large pools.
 *
 * The event queue's records, keys and packet buffers reach hundreds of
 * MiB in a large run and are read in no useful order, so on 4 KiB pages
 * nearly every access is also a TLB miss, and under virtualization a TLB
 * miss is a two-level page walk: measured on a 1,000-node run, it stalls
 * even the queue's prefetches. Blocks of 2 MiB and more are therefore
 * aligned to 2 MiB and advised for transparent huge pages, which the
 * kernel grants where it can (THP "always" or "madvise"); elsewhere they
 * are ordinary memory. Nothing here changes what a run computes.
 */
#ifndef SIM_MEM_H
#define SIM_MEM_H

#include <stddef.h>

#define SIM_MEM_HUGE ((size_t)2 << 20) /* a huge page on x86-64 and arm64 */
/* malloc's blocks from this size up are mapped on their own: glibc's
 * default, here kept from moving (sim_mem_malloc_on_huge_pages). */
#define SIM_MEM_MMAP_THRESHOLD ((size_t)128 << 10)

/* n_bytes (> 0) of uninitialized memory, aligned to 64 bytes, and to
 * SIM_MEM_HUGE when n_bytes is at least that. Aborts on out-of-memory,
 * as g_malloc does. Free with sim_mem_free(). */
void *sim_mem_alloc(size_t n_bytes);
/* The same aligned to `align` at least (a power of two): what a block's
 * own address must tell, as a packet's page (packets.c). */
void *sim_mem_alloc_aligned(size_t n_bytes, size_t align);
/* NULL is a no-op. */
void sim_mem_free(void *p);

/* Everything else a large run holds comes from malloc: the engines' peer
 * tables, the shared records, the recorder's state, blocks of a few KiB
 * per node read at random on every delivery. glibc puts malloc's heap on
 * huge pages only when told so as the process starts (GLIBC_TUNABLES
 * glibc.malloc.hugetlb=1; there is no call for it), so a program that
 * runs the simulator calls this first thing in main(): it executes the
 * program again, same arguments, with that setting added, and with
 * glibc.malloc.mmap_threshold fixed at SIM_MEM_MMAP_THRESHOLD. glibc
 * otherwise raises the threshold as mapped blocks are freed, and the
 * large blocks it then takes from the heap have all their room for
 * growth resident once on huge pages; a block mapped on its own (small
 * pages) holds only what was written (docs/simulator.md, "Huge pages").
 * Returns, having done nothing, when GLIBC_TUNABLES already names
 * glibc.malloc.hugetlb (the user's choice, and the executed program's),
 * when the kernel has transparent huge pages off, under another C
 * library, or when the exec fails. */
void sim_mem_malloc_on_huge_pages(char **argv);

/* The GLIBC_TUNABLES value sim_mem_malloc_on_huge_pages() executes with,
 * given the current one (NULL if unset): that value with the two
 * settings appended (the threshold unless it names one), or NULL
 * when it names glibc.malloc.hugetlb already. Free with g_free(). */
char *sim_mem_huge_tunables(const char *tunables);

#endif /* SIM_MEM_H */
