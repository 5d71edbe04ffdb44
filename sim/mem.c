/* mem.c: large blocks on transparent huge pages (see mem.h). */
#include "mem.h"

#include <glib.h>
#include <stdlib.h>
#include <sys/mman.h>

#define CACHE_LINE 64

void *sim_mem_alloc(size_t n_bytes)
{
    size_t align = n_bytes >= SIM_MEM_HUGE ? SIM_MEM_HUGE : CACHE_LINE;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t size = (n_bytes + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, size ? size : align);
    if (p == NULL)
        g_error("sim: out of memory allocating %zu bytes", size);
#ifdef MADV_HUGEPAGE
    /* Advice only: without THP it fails or does nothing, and the block is
     * simply made of small pages. */
    if (align == SIM_MEM_HUGE)
        (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

void sim_mem_free(void *p)
{
    free(p);
}
