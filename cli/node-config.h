/* node-config.h: the settings of `peko node`, from a config file and
 * command-line flags (docs/node.md).
 *
 * The config file is a GKeyFile (.ini) with one group, [node], holding
 * pekonode's NodeList fields (amount, cycle, buffer, size, timeout,
 * secret_key, protocol, listen_addr, is_print) and the node's own (addr,
 * port, name, data, seeds, accepted_keys, dissemination, seen_cache,
 * exchanges, control, db, seed). Flags override the file. The engine's
 * settings are parsed exactly as in scenario files (scn_engine_set():
 * the same spellings, units such as "200ms" and "16KiB", and limits).
 */
#ifndef CLI_NODE_CONFIG_H
#define CLI_NODE_CONFIG_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "peko.h"

/* What one setting says, as text, before it is checked. Every field may
 * be NULL (not given). */
typedef struct cli_node_args {
    char *config_path;
    char *addr, *port, *name, *data, *seeds, *listen_addr;
    char *protocol, *amount, *cycle, *buffer, *size, *timeout;
    char *secret_key;
    char **accepted_keys;      /* NULL-terminated */
    char *dissemination, *seen_cache, *exchanges;
    char *control, *db, *seed;
    char *metrics, *key_file, *run_label;
    gboolean print;            /* --print given */
} cli_node_args;

/* The longest run label (bytes). */
#define CLI_RUN_LABEL_MAX 128

/* The checked settings. Strings are owned. */
typedef struct cli_node_settings {
    peko_config config;        /* its strings point into the fields below */
    char *addr;
    uint16_t port;
    char *name;
    char *data;
    char **seed_hosts;         /* seeds: host and port, n_seeds of each;
                                * a host is numeric or a DNS name */
    uint16_t *seed_ports;
    size_t n_seeds;
    char *listen_addr;         /* NULL: the transport's default */
    char *secret_key;
    char **accepted_keys;      /* NULL-terminated, may be NULL */
    char *control_path;        /* NULL: the default for the port */
    char *db_path;             /* NULL: no recording */
    char *run_label;           /* the deployment the recording belongs
                                * to (`peko merge --fleet`); NULL: none */
    char *config_path;         /* NULL: no file (SIGHUP has nothing to read) */
    char *key_file;            /* NULL: keys from the config file or flags */
    bool keys_from_flags;      /* --secret-key or --accepted-key given */
    char *metrics_host;        /* NULL: no metrics endpoint */
    uint16_t metrics_port;     /* 0: any free port */
    bool seeded;
    uint64_t seed;
} cli_node_settings;

/* Reads the file named by args->config_path (if any), then applies the
 * flags in *args over it, and checks everything. On failure sets *error
 * with the file, key or flag at fault and what was expected, and leaves
 * *out cleared. */
gboolean cli_node_settings_load(const cli_node_args *args,
                                cli_node_settings *out, GError **error);
void cli_node_settings_clear(cli_node_settings *settings);

/* Reads secret_key and accepted_keys from the config file again (for
 * SIGHUP). On success sets *secret (NULL: none) and *accepted (NULL or
 * NULL-terminated), both newly allocated. */
gboolean cli_node_settings_read_keys(const char *config_path, char **secret,
                                     char ***accepted, GError **error);

/* Reads a key file (docs/node.md, "Keys"): one key a line, the first the
 * sending key, the others accepted on receipt; blank lines and lines
 * starting with '#' are skipped, spaces around a key are not part of it.
 * On success sets *secret and *accepted (NULL or NULL-terminated), both
 * newly allocated. Fails on a file that cannot be read, is larger than
 * 64 KiB, holds a NUL byte, no key, or more than PEKO_MAX_KEYS keys. */
gboolean cli_node_read_key_file(const char *path, char **secret,
                                char ***accepted, GError **error);

/* Parses "host:port" or "[v6 host]:port"; the host is a numeric address
 * or a DNS name (letters, digits, hyphens and dots, as RFC 1123 has
 * them), which `peko node` resolves. */
gboolean cli_node_parse_hostport(const char *text, char **host, uint16_t *port,
                                 GError **error);

#endif /* CLI_NODE_CONFIG_H */
