/* testdir.h: a temporary directory for a test's files, removed with
 * everything in it when the test ends. */
#ifndef PEKO_TESTDIR_H
#define PEKO_TESTDIR_H

/* Makes a fresh directory from `pattern` (g_dir_make_tmp: "name-XXXXXX")
 * in the system's temporary directory. Returns its path (owned), or NULL
 * when it cannot be made. */
char *testdir_make(const char *pattern);

/* Removes the files and empty directories in `dir`, then `dir` itself,
 * and frees the path. NULL is a no-op. */
void testdir_remove(char *dir);

#endif /* PEKO_TESTDIR_H */
