/* node-seeds.c: numeric and DNS seeds of `peko node` (node-seeds.h). */
#include "node-seeds.h"

#include <gio/gio.h>

#include "journal-log.h"

typedef struct seed_name {
    cli_node_seeds *owner;
    char *host;
    uint16_t port;
    bool resolved;
    bool told;           /* the first failure was logged */
    guint retry;         /* source id of the next attempt, or 0 */
} seed_name;

struct cli_node_seeds {
    peko_nodelist *nl;
    int family;
    GResolver *resolver;
    GCancellable *cancel;
    seed_name *names;
    size_t n_names;
};

static void resolve(seed_name *s);

static gboolean on_retry(gpointer user)
{
    seed_name *s = user;
    s->retry = 0;
    resolve(s);
    return G_SOURCE_REMOVE;
}

static void on_resolved(GObject *source, GAsyncResult *result, gpointer user)
{
    GError *error = NULL;
    GList *addresses =
        g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(error); /* freed with its owner: touch nothing */
        return;
    }
    seed_name *s = user;
    cli_node_seeds *seeds = s->owner;
    GSocketFamily want = seeds->family == PEKO_AF_INET6
                             ? G_SOCKET_FAMILY_IPV6
                             : G_SOCKET_FAMILY_IPV4;
    size_t added = 0;
    GString *list = g_string_new(NULL);
    for (GList *l = addresses; l && added < CLI_SEEDS_MAX_PER_NAME;
         l = l->next) {
        GInetAddress *ip = l->data;
        if (g_inet_address_get_family(ip) != want)
            continue;
        char *text = g_inet_address_to_string(ip);
        peko_addr a;
        /* The node's own address does not count: a Service's name may
         * list only it while the other pods start, and a node seeded
         * with itself alone would stay alone. */
        if (peko_addr_parse(text, s->port, &a) == 0 &&
            !peko_addr_equal(&a, peko_nodelist_local_addr(seeds->nl)) &&
            peko_nodelist_set(seeds->nl, &(peko_node){.addr = text,
                                                      .port = s->port}) ==
                0) {
            g_string_append_printf(list, "%s%s", added ? ", " : "", text);
            added++;
        }
        g_free(text);
    }
    g_resolver_free_addresses(addresses);
    if (added) {
        s->resolved = true;
        run_log(LOG_INFO, "peko node: ", "seed %s:%u is %s", s->host,
                (unsigned)s->port, list->str);
    } else {
        if (!s->told)
            run_log(LOG_NOTICE, "peko node: ",
                    "seed %s: %s; trying again every %d s", s->host,
                    error ? error->message
                          : seeds->family == PEKO_AF_INET6
                              ? "no IPv6 address but this node's"
                              : "no IPv4 address but this node's",
                    CLI_SEEDS_RETRY_S);
        s->told = true;
        s->retry = g_timeout_add_seconds(CLI_SEEDS_RETRY_S, on_retry, s);
    }
    g_string_free(list, TRUE);
    g_clear_error(&error);
}

static void resolve(seed_name *s)
{
    g_resolver_lookup_by_name_async(s->owner->resolver, s->host,
                                    s->owner->cancel, on_resolved, s);
}

cli_node_seeds *cli_node_seeds_start(peko_nodelist *nl, int family,
                                     char *const *hosts,
                                     const uint16_t *ports, size_t n)
{
    cli_node_seeds *seeds = g_new0(cli_node_seeds, 1);
    seeds->nl = nl;
    seeds->family = family;
    seeds->names = g_new0(seed_name, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        peko_addr a;
        if (peko_addr_parse(hosts[i], ports[i], &a) == 0) {
            peko_nodelist_set(nl, &(peko_node){.addr = hosts[i],
                                               .port = ports[i]});
            continue;
        }
        seed_name *s = &seeds->names[seeds->n_names++];
        s->owner = seeds;
        s->host = g_strdup(hosts[i]);
        s->port = ports[i];
    }
    if (seeds->n_names) {
        seeds->resolver = g_resolver_get_default();
        seeds->cancel = g_cancellable_new();
        for (size_t i = 0; i < seeds->n_names; i++)
            resolve(&seeds->names[i]);
    }
    return seeds;
}

size_t cli_node_seeds_pending(const cli_node_seeds *seeds)
{
    size_t n = 0;
    for (size_t i = 0; i < seeds->n_names; i++)
        n += !seeds->names[i].resolved;
    return n;
}

void cli_node_seeds_free(cli_node_seeds *seeds)
{
    if (seeds == NULL)
        return;
    if (seeds->cancel)
        g_cancellable_cancel(seeds->cancel);
    for (size_t i = 0; i < seeds->n_names; i++) {
        if (seeds->names[i].retry)
            g_source_remove(seeds->names[i].retry);
        g_free(seeds->names[i].host);
    }
    g_clear_object(&seeds->cancel);
    g_clear_object(&seeds->resolver);
    g_free(seeds->names);
    g_free(seeds);
}
