/* main.c: the peko program's entry point: dispatches to a subcommand by
 * name (the table comes from CLI_COMMANDS in cli.h). */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mem.h"
#include "peko.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

static const cli_command commands[] = {
#define CLI_CMD_ENTRY(cmd, summary) {#cmd, summary, cli_cmd_##cmd},
    CLI_COMMANDS(CLI_CMD_ENTRY)
#undef CLI_CMD_ENTRY
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: peko COMMAND [OPTION...]\n"
            "       peko --help | --version\n"
            "\n"
            "peko is a gossip engine: a pekonode-compatible node list with a\n"
            "deterministic simulator and tools to measure it.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'peko COMMAND --help' for a command's options.\n");
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    fprintf(stderr,
            "peko: unknown command '%s'\n"
            "Run 'peko --help' for the list of commands.\n",
            name);
    return CLI_EXIT_USAGE;
}

/* The commands that run the simulator, whose large runs read malloc's
 * heap at random on every delivery: they put it on huge pages (mem.h).
 * The others, a node daemon above all, keep the C library's defaults. */
static bool runs_simulator(const cli_command *cmd)
{
    return cmd->run == cli_cmd_sim || cmd->run == cli_cmd_sweep ||
           cmd->run == cli_cmd_explore;
}

static int start_command(const cli_command *cmd, int argc, char **argv)
{
    /* GOption's --help shows the program name: make it "peko demo". */
    char *prgname = g_strconcat("peko ", cmd->name, NULL);
    g_set_prgname(prgname);
    g_free(prgname);
    return cmd->run(argc, argv);
}

int main(int argc, char **argv)
{
    /* Only the character set follows the user's locale (so help text can
     * be UTF-8); numbers always print the same, whatever the locale. */
    setlocale(LC_CTYPE, "");
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        printf("peko %s\n", PEKO_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (strcmp(arg, "help") == 0) {
        /* "peko help demo" is "peko demo --help". */
        if (argc == 2) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const cli_command *cmd = find_command(argv[2]);
        if (cmd == NULL)
            return unknown_command(argv[2]);
        char *help_argv[] = {argv[2], (char *)"--help", NULL};
        return start_command(cmd, 2, help_argv);
    }
    if (arg[0] == '-') {
        fprintf(stderr,
                "peko: unknown option '%s'\n"
                "Run 'peko --help' for usage.\n",
                arg);
        return CLI_EXIT_USAGE;
    }
    const cli_command *cmd = find_command(arg);
    if (cmd == NULL)
        return unknown_command(arg);
    if (runs_simulator(cmd))
        sim_mem_malloc_on_huge_pages(argv); /* returns if it did not */
    return start_command(cmd, argc - 1, argv + 1);
}
