/* testdir.c: a temporary directory per test (testdir.h). */
#include "testdir.h"

#include <glib.h>
#include <glib/gstdio.h>

char *testdir_make(const char *pattern)
{
    return g_dir_make_tmp(pattern, NULL);
}

void testdir_remove(char *dir)
{
    if (dir == NULL)
        return;
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)) != NULL) {
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            g_rmdir(path);
        else
            g_unlink(path);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
}
