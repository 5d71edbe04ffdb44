/* mem.c: large blocks on transparent huge pages (see mem.h). */
#include "mem.h"

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CACHE_LINE 64

void *sim_mem_alloc(size_t n_bytes)
{
    return sim_mem_alloc_aligned(n_bytes, CACHE_LINE);
}

void *sim_mem_alloc_aligned(size_t n_bytes, size_t align)
{
    if (n_bytes >= SIM_MEM_HUGE && align < SIM_MEM_HUGE)
        align = SIM_MEM_HUGE;
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

/* Whether the kernel grants huge pages to memory advised for them: THP
 * "always" or "madvise", not "never" (the selected mode is bracketed). */
static bool thp_advisable(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL)
        return false;
    char line[128];
    bool ok = fgets(line, sizeof line, f) != NULL &&
              (strstr(line, "[always]") || strstr(line, "[madvise]"));
    fclose(f);
    return ok;
}

char *sim_mem_huge_tunables(const char *tunables)
{
    if (tunables && strstr(tunables, "glibc.malloc.hugetlb"))
        return NULL;
    GString *out = g_string_new(tunables);
    if (out->len)
        g_string_append_c(out, ':');
    g_string_append(out, "glibc.malloc.hugetlb=1");
    if (!tunables || !strstr(tunables, "glibc.malloc.mmap_threshold"))
        g_string_append_printf(out, ":glibc.malloc.mmap_threshold=%zu",
                               SIM_MEM_MMAP_THRESHOLD);
    return g_string_free(out, FALSE);
}

void sim_mem_malloc_on_huge_pages(char **argv)
{
#ifdef __GLIBC__
    const char *old = getenv("GLIBC_TUNABLES");
    char *tunables = sim_mem_huge_tunables(old);
    if (tunables == NULL || !thp_advisable()) {
        g_free(tunables);
        return;
    }
    /* The program by its own path, not /proc/self/exe, so that it keeps
     * its name (ps, top, perf). */
    char *self = g_file_read_link("/proc/self/exe", NULL);
    char *saved = g_strdup(old);
    if (self && setenv("GLIBC_TUNABLES", tunables, 1) == 0)
        execv(self, argv);
    /* Not executed (no /proc, a program replaced while it ran): go on
     * as we are. */
    g_free(self);
    if (saved)
        setenv("GLIBC_TUNABLES", saved, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    g_free(saved);
    g_free(tunables);
#else
    (void)argv;
#endif
}
