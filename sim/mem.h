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

/* n_bytes (> 0) of uninitialized memory, aligned to 64 bytes, and to
 * SIM_MEM_HUGE when n_bytes is at least that. Aborts on out-of-memory,
 * as g_malloc does. Free with sim_mem_free(). */
void *sim_mem_alloc(size_t n_bytes);
/* NULL is a no-op. */
void sim_mem_free(void *p);

#endif /* SIM_MEM_H */
