/* fleet-private.h: the fleet merge's state, shared by fleet-load.c
 * (reading the inputs), fleet-clock.c (the common clock) and fleet.c
 * (staging it all for join.c, which joins and writes). Internal to the
 * analysis library. */
#ifndef ANA_FLEET_PRIVATE_H
#define ANA_FLEET_PRIVATE_H

#include <sqlite3.h>
#include <stdbool.h>

#include "fleet.h"
#include "peko.h"
#include "schema.h"

/* One input run. */
typedef struct ana__fl_input {
    char *path;
    int64_t run_id;           /* in its own file */
    char *label;
    int64_t wall_t0_us;       /* its clock at the run's start */
    int64_t wall_end_us;      /* its clock at the run's end (or last row) */
    char *status;
    char *started_at;
    char *finished_at;        /* may be NULL */
    char *engine_json;        /* $.engine of its params, or NULL */
    uint32_t hb_every;        /* $.fleet.heartbeat_every, >= 1 */
    int64_t deliveries;
} ana__fl_input;

typedef struct ana__fl_node {
    peko_addr addr;
    char addr_text[PEKO_ADDR_STRLEN];
    char *name;               /* may be NULL */
    size_t input;
    int64_t local_id;         /* node_id in its input run */
    int64_t peers_added, peers_refreshed, peers_expired; /* -1: NULL */
    /* The common clock: this node's clock reads offset_us ahead of the
     * reference's, within +- error_us, via path_hops measured links. */
    int64_t offset_us;
    int64_t error_us;
    int path_hops;
    bool reached;
} ana__fl_node;

typedef struct ana__fl_receipt {
    int64_t wall_us;          /* the receiving node's clock */
    size_t rumor;             /* index into rumors */
    uint32_t node;            /* global node id */
    int32_t hops;             /* -1: NULL */
    int32_t from;             /* global node id, -1: NULL */
    uint8_t via;              /* ana__via (recorder-private.h) */
} ana__fl_receipt;

typedef struct ana__fl_rumor {
    char *kind;               /* "heartbeat" or "metadata" */
    char *engine_id;          /* 16 hex digits */
    uint32_t origin;          /* global node id */
} ana__fl_rumor;

typedef struct ana__fl_members {
    int64_t wall_us;
    int64_t members;
    uint32_t node;
    uint32_t order;           /* load order, for equal times */
} ana__fl_members;

typedef struct ana__fl_offset {
    uint32_t node;            /* who measured */
    uint32_t peer;            /* whose clock */
    int64_t offset_us;        /* peer's clock minus node's */
    int64_t error_us;
} ana__fl_offset;

typedef struct ana__fl_version {
    int64_t wall_us;
    int64_t counter;
    char *origin_addr;
    char *via;
    int64_t bytes;
    uint32_t node;
} ana__fl_version;

typedef struct ana__fl_counter {
    uint32_t node;
    char *type;               /* traffic: type; rejection: reason */
    char *outcome;            /* NULL for a rejection */
    int64_t packets;
    int64_t bytes;
} ana__fl_counter;

typedef struct ana__fleet {
    ana_fleet_options opts;
    char *label;
    GPtrArray *inputs;        /* ana__fl_input * */
    GArray *nodes;            /* ana__fl_node, sorted by address after load */
    GHashTable *node_by_addr; /* addr text -> id + 1 (GUINT_TO_POINTER);
                               * lookups only, never iterated */
    GArray *rumors;           /* ana__fl_rumor */
    GHashTable *rumor_by_key; /* "kind origin engine_id" -> index + 1 */
    GArray *receipts;         /* ana__fl_receipt */
    GArray *members;          /* ana__fl_members */
    GArray *offsets;          /* ana__fl_offset */
    GArray *versions;         /* ana__fl_version */
    GArray *counters;         /* ana__fl_counter */
    size_t reference;
    uint32_t hb_every;
} ana__fleet;

/* fleet-load.c: reads every input into *fl (nodes first, in address
 * order, then their rows). */
gboolean ana__fleet_load(ana__fleet *fl, const char *const *inputs,
                         size_t n_inputs, GError **error);

/* fleet-clock.c: sets every node's offset, error and reference (see
 * fleet.h); refuses a node no measured link reaches. */
gboolean ana__fleet_clock(ana__fleet *fl, GError **error);

/* A node's clock reading `wall_us` on the reference clock. */
static inline int64_t ana__fleet_common(const ana__fleet *fl, uint32_t node,
                                        int64_t wall_us)
{
    return wall_us - g_array_index(fl->nodes, ana__fl_node, node).offset_us;
}

#endif /* ANA_FLEET_PRIVATE_H */
