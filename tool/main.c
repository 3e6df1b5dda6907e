/* kafka-mtls: issue certificates into client volumes and inspect volumes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "issue") == 0)
        return km_cmd_issue(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "inspect") == 0)
        return km_cmd_inspect(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        km_cli_help(stdout, 1);
        return KM_EXIT_OK;
    }
    if (argc >= 2)
        fprintf(stderr, "kafka-mtls: unknown command '%s'\n", argv[1]);
    km_cli_help(stderr, 0);
    return KM_EXIT_USAGE;
}
