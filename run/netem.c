/* netem.c: the checks behind `peko testbed --netem` (netem.h). */
#include "netem.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NETEM_PREFIX "peko-tb-"
/* Where `ip netns` keeps its named namespaces. */
#define NETNS_DIR "/run/netns"

/* Runs argv (no shell), waiting for it. Returns TRUE when it exits 0;
 * otherwise FALSE with its first line of error output (or why it could
 * not run) in *why. */
static gboolean run(const char *const *argv, char **why)
{
    char *err = NULL;
    int status = 0;
    GError *error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                      NULL, NULL, &err, &status, &error)) {
        if (why)
            *why = g_strdup(error->message);
        g_error_free(error);
        return FALSE;
    }
    gboolean ok = g_spawn_check_wait_status(status, NULL);
    if (!ok && why) {
        g_strstrip(err);
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = 0;
        *why = g_strdup(*err ? err : "failed without a message");
    }
    g_free(err);
    return ok;
}

int run_netem_remove_leftovers(void)
{
    DIR *d = opendir(NETNS_DIR);
    if (d == NULL)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, NETEM_PREFIX, strlen(NETEM_PREFIX)) != 0)
            continue;
        char *end = NULL;
        long pid = strtol(e->d_name + strlen(NETEM_PREFIX), &end, 10);
        if (end == NULL || *end != '-' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its testbed still runs */
        const char *argv[] = {"ip", "netns", "delete", e->d_name, NULL};
        if (run(argv, NULL))
            removed++;
    }
    closedir(d);
    return removed;
}

gboolean run_netem_check(GError **error)
{
    if (geteuid() != 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "needs root (CAP_NET_ADMIN) to create network"
                    " namespaces and queueing disciplines");
        return FALSE;
    }
    run_netem_remove_leftovers();
    char name[64];
    g_snprintf(name, sizeof name, NETEM_PREFIX "%ld-probe", (long)getpid());
    char *why = NULL;
    const char *add[] = {"ip", "netns", "add", name, NULL};
    if (!run(add, &why)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "cannot create a network namespace ('ip netns add %s':"
                    " %s)",
                    name, why);
        g_free(why);
        return FALSE;
    }
    const char *up[] = {"ip", "-n", name, "link", "set", "lo", "up", NULL};
    const char *qdisc[] = {"tc", "-n", name, "qdisc", "add", "dev", "lo",
                           "root", "netem", "delay", "1ms", NULL};
    gboolean ok = TRUE;
    if (!run(up, &why)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "cannot bring up a namespace's loopback ('ip -n %s link"
                    " set lo up': %s)",
                    name, why);
        ok = FALSE;
    } else if (!run(qdisc, &why)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the kernel has no netem queueing discipline ('tc qdisc"
                    " add dev lo root netem delay 1ms' in a fresh namespace:"
                    " %s). Load sch_netem (modprobe sch_netem) or run on a"
                    " kernel built with CONFIG_NET_SCH_NETEM; without"
                    " --netem the testbed emulates latency and loss itself",
                    why);
        ok = FALSE;
    }
    g_free(why);
    const char *del[] = {"ip", "netns", "delete", name, NULL};
    run(del, NULL);
    if (!ok)
        return FALSE;
    /* Namespaces and netem work here, but the testbed's nodes run in this
     * one process and namespace: per-node namespaces are not built by
     * this version. */
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                "namespaces and netem are available here, but per-node"
                " namespaces are not implemented yet; without --netem the"
                " testbed emulates latency and loss itself");
    return FALSE;
}
