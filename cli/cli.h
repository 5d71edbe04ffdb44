/* cli.h: the peko program's subcommands and their shared helpers.
 *
 * Adding a subcommand takes one line in CLI_COMMANDS below, one function
 *     int cli_cmd_<name>(int argc, char **argv);
 * in its own file cli/cmd-<name>.c, and that file in cli/meson.build.
 * argv[0] is the subcommand's name; the function returns the process's
 * exit status (CLI_EXIT_*).
 */
#ifndef CLI_H
#define CLI_H

#include <glib.h>
#include <signal.h>
#include <stdint.h>

/* X(name, one-line summary), in the order `peko --help` lists them. */
#define CLI_COMMANDS(X)                                                        \
    X(sim, "run a scenario in the simulator and report its convergence")       \
    X(testbed, "run a scenario on real sockets on this machine")               \
    X(sweep, "run a scenario's sweep, with repetitions, in parallel")          \
    X(explore, "hunt invariant violations: random clusters, faults, seeds")   \
    X(merge, "combine databases recorded on different machines")               \
    X(report, "report a database's runs, over repetitions, against theory")    \
    X(compare, "regression gate: did NEW.db get worse than BASE.db?")          \
    X(plot, "draw a database's runs as one self-contained HTML page")          \
    X(node, "run one gossip node on real sockets (a daemon)")                  \
    X(ctl, "talk to a running node: get, read, publish, stop, stats")          \
    X(demo, "run a small cluster in the simulator and show it converge")

#define CLI_CMD_DECLARE(name, summary)                                         \
    int cli_cmd_##name(int argc, char **argv);
CLI_COMMANDS(CLI_CMD_DECLARE)
#undef CLI_CMD_DECLARE

/* Exit statuses shared by every subcommand. */
enum {
    CLI_EXIT_OK = 0,     /* did what was asked, checks passed */
    CLI_EXIT_FAILED = 1, /* ran, but a check failed or an operation did */
    CLI_EXIT_USAGE = 2,  /* bad command line; nothing was run */
};

/* Prints "peko <command>: <message>" and a pointer to --help on stderr;
 * returns CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *command, const char *format, ...)
    G_GNUC_PRINTF(2, 3);

/* Parses `argv` with `context` (which the caller owns and frees). On a bad
 * option or a stray positional argument it reports the precise problem
 * with cli_usage_error() and returns FALSE. `--help` prints the
 * help and exits 0 (GOption's behaviour). */
gboolean cli_parse(GOptionContext *context, const char *command, int *argc,
                   char ***argv);

/* The same for a command that takes exactly n_positional arguments: on
 * success they are argv[1 .. n_positional] and *argc is n_positional + 1;
 * a missing or extra one is reported as a usage error. */
gboolean cli_parse_positional(GOptionContext *context, const char *command,
                              int *argc, char ***argv, int n_positional);

/* The same for min_positional or more arguments, at most max_positional
 * (-1: no limit). */
gboolean cli_parse_between(GOptionContext *context, const char *command,
                           int *argc, char ***argv, int min_positional,
                           int max_positional);

/* Parses a decimal unsigned integer for an option, within [min, max].
 * Returns TRUE and sets *out, or FALSE with a message naming the option
 * and the accepted range in *error. */
gboolean cli_parse_u64(const char *option, const char *value, uint64_t min,
                       uint64_t max, uint64_t *out, GError **error);

/* Appends bytes as text, \xNN for anything not printable ASCII, at most
 * `max` bytes shown (then "..."). For showing data from the network. */
void cli_append_escaped(GString *out, const uint8_t *bytes, size_t n,
                        size_t max);

/* One file a command reads or writes, for cli_check_paths(). */
typedef struct cli_path {
    const char *what;  /* how the command line names it: "--db" */
    const char *path;  /* NULL: not given */
    gboolean output;   /* written, replaced or appended to */
} cli_path;

/* Refuses a command line that names one file twice where one of the two
 * is written: an output that is an input (`peko plot X.db -o X.db`) or
 * another output (`--db X --pcap X`). The same file however it is
 * spelled: equal st_dev and st_ino for files that exist (links and
 * symlinks included), the same resolved directory and name for files
 * that do not yet. Returns TRUE, or FALSE after printing which two
 * arguments clash as a usage error: the caller exits CLI_EXIT_USAGE
 * before writing anything. */
gboolean cli_check_paths(const char *command, const cli_path *paths,
                         size_t n_paths);

/* Appends bytes for a terminal: UTF-8 text as it is, but \xNN for each
 * byte of a control character (C0, DEL, C1), a Unicode format or
 * separator character (bidirectional overrides, U+2028), an unassigned
 * or invalid sequence, a backslash, and any ASCII byte in `also` (NULL:
 * none), except the bytes in `keep` (NULL: none; e.g. "\n\t" for text
 * shown whole). So bytes from the network can neither add lines nor
 * send escape sequences, and what is shown reads back unambiguously. */
void cli_append_printable(GString *out, const uint8_t *bytes, size_t n,
                          const char *also, const char *keep);

/* Loads the scenario at `path` and applies `--set` assignments (`sets`,
 * NULL-terminated, may be NULL) and a `--seed` (NULL: the scenario's).
 * Returns NULL after printing the problem as "peko <command>: ..." (the
 * caller exits CLI_EXIT_USAGE: a bad scenario never starts a run). */
struct scn_scenario *cli_load_scenario(const char *command, const char *path,
                                       char *const *sets, const char *seed);

/* A text progress bar of CLI_BAR_WIDTH cells, '#' for the done
 * fraction `frac` (clamped to 0..1), '-' for the rest, NUL-terminated. */
#define CLI_BAR_WIDTH 30
void cli_progress_bar(double frac, char bar[CLI_BAR_WIDTH + 1]);

/* The memory limit of a simulated run (run/budget.h) from --max-memory
 * `text`: a size ("8GiB"), 0 for no check, or NULL for what the machine
 * has available now. *given says whether text was given. FALSE after
 * printing a usage error for a bad size. */
gboolean cli_parse_max_memory(const char *command, const char *text,
                              uint64_t *limit, gboolean *given);

/* Set to 1 by SIGINT and SIGTERM while caught: a long command checks it
 * between steps, stops, and records what it did as incomplete. */
extern volatile sig_atomic_t cli_stop_requested;
/* Catches SIGINT and SIGTERM into cli_stop_requested until
 * cli_release_stop() puts the previous handlers back. */
void cli_catch_stop(void);
void cli_release_stop(void);

/* A fresh path for a database that only lives for one command (no file
 * there: the recorder creates it). NULL after printing why as
 * "peko <command>: ...". Remove it with ana_db_remove() (schema.h). */
char *cli_temp_db(const char *command);

/* A duration in seconds for people: "850 us", "12.3 ms", "4.210 s",
 * "never" for INFINITY, "-" for NAN. Into buf (at least 32 bytes). */
void cli_format_seconds(char *buf, size_t size, double s);

/* Parses a tolerance for an option: "5%", "0.05", or "5" (a bare number
 * above 1 is a percentage) -> 0.05. FALSE with a message naming the
 * option in *error for anything else or a negative value. */
gboolean cli_parse_fraction(const char *option, const char *text, double *out,
                            GError **error);

#endif /* CLI_H */
