/* example.c: pekonode's README example, on peko's real transport.
 *
 * Starts a node at 127.0.0.1:8000 (or the port given; 0 picks a free
 * one), tells it about two nodes already in the cluster, joins, publishes
 * cluster metadata, reads it back and prints the node list, then keeps
 * gossiping on the GLib main loop: for SECONDS seconds, or until killed
 * when SECONDS is 0 or absent. The same program is in README.md.
 *
 *     example [PORT [SECONDS]]
 */
#include <peko-transport.h>
#include <stdio.h>
#include <stdlib.h>

static gboolean quit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    int seconds = argc > 2 ? atoi(argv[2]) : 0;

    /* Configure the local node list: pekonode's defaults, with console
     * output and a one-second cycle. */
    peko_config config = {0};
    config.is_print = true;
    config.cycle_us = 1000000;
    config.secret_key = "cluster-secret";

    /* The local node: this machine, a port, a name and private data. */
    peko_transport_options opts;
    peko_transport_options_init(&opts);
    opts.config = &config;
    opts.local = (peko_node){.addr = "127.0.0.1", .port = (uint16_t)port,
                             .name = "Test", .private_data = "test-data"};

    GError *error = NULL;
    peko_transport *tp = peko_transport_new(&opts, &error);
    if (tp == NULL) {
        fprintf(stderr, "example: %s\n", error->message);
        g_error_free(error);
        return 1;
    }
    peko_nodelist *nl = peko_transport_nodelist(tp);

    /* Nodes already in the cluster; the first node of a cluster can skip
     * this. The local node will synchronize with them. */
    peko_nodelist_set(nl, &(peko_node){.addr = "127.0.0.1", .port = 9999,
                                       .name = "Hello",
                                       .private_data = "test-data"});
    peko_nodelist_set(nl, &(peko_node){.addr = "127.0.0.1", .port = 7777,
                                       .name = "Hi",
                                       .private_data = "test-data"});

    /* Join the cluster: heartbeats and swaps run on the main loop. */
    peko_nodelist_join(nl);

    /* The local node list. */
    peko_node_array list;
    peko_nodelist_get(nl, &list);
    for (size_t i = 0; i < list.count; i++)
        printf("%s %u %s %s\n", list.nodes[i].addr, list.nodes[i].port,
               list.nodes[i].name, list.nodes[i].private_data);
    peko_node_array_clear(&list);

    /* Publish cluster metadata, then read the local copy. */
    peko_nodelist_publish(nl, (const uint8_t *)"test metadata", 13);
    size_t n;
    const uint8_t *metadata = peko_nodelist_read(nl, &n);
    printf("%.*s\n", (int)n, (const char *)metadata);

    /* Gossip runs as long as the loop does (pekonode's "for {}"). */
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    if (seconds > 0)
        g_timeout_add_seconds((guint)seconds, quit, loop);
    g_main_loop_run(loop);

    g_main_loop_unref(loop);
    peko_transport_free(tp);
    return 0;
}
