/* test-mem.c: the simulator's memory (sim/mem.h): huge-page blocks and
 * the malloc settings a simulating program runs with. */
#include <criterion/criterion.h>
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

TestSuite(mem, .timeout = 60);

Test(mem, large_blocks_are_huge_page_aligned)
{
    void *small = sim_mem_alloc(100);
    void *large = sim_mem_alloc(SIM_MEM_HUGE + 1);
    cr_assert_eq((uintptr_t)small % 64, 0);
    cr_assert_eq((uintptr_t)large % SIM_MEM_HUGE, 0);
    memset(large, 1, SIM_MEM_HUGE + 1); /* all of it is ours */
    sim_mem_free(small);
    sim_mem_free(large);
    sim_mem_free(NULL);
}

static void expect_tunables(const char *given, const char *want)
{
    char *got = sim_mem_huge_tunables(given);
    if (want == NULL)
        cr_assert_null(got, "for %s: %s", given, got);
    else
        cr_assert_str_eq(got, want, "for %s", given ? given : "(unset)");
    g_free(got);
}

Test(mem, tunables_add_huge_pages_and_keep_the_users)
{
    expect_tunables(NULL, "glibc.malloc.hugetlb=1:"
                          "glibc.malloc.mmap_threshold=131072");
    expect_tunables("", "glibc.malloc.hugetlb=1:"
                        "glibc.malloc.mmap_threshold=131072");
    expect_tunables("glibc.malloc.arena_max=2",
                    "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1:"
                    "glibc.malloc.mmap_threshold=131072");
    /* The user's threshold stays theirs. */
    expect_tunables("glibc.malloc.mmap_threshold=65536",
                    "glibc.malloc.mmap_threshold=65536:"
                    "glibc.malloc.hugetlb=1");
}

Test(mem, tunables_that_say_hugetlb_are_left_alone)
{
    /* The user's choice either way, and what an executed program sees:
     * nothing to do, so no second exec. */
    expect_tunables("glibc.malloc.hugetlb=0", NULL);
    expect_tunables("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", NULL);
    char *once = sim_mem_huge_tunables(NULL);
    expect_tunables(once, NULL);
    g_free(once);
}
