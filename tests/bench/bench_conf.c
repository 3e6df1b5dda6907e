/* The one KEY=VALUE parser of the benchmark programs (bench_conf.h). */
#include <stdio.h>
#include <string.h>

#include "bench_conf.h"

int bench_conf_args(rd_kafka_conf_t *conf, char **argv, int from, int argc, const char *prog)
{
    char errstr[1024];

    for (int i = from; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        rd_kafka_conf_res_t r;

        if (eq == NULL) {
            fprintf(stderr, "%s: %s: expected KEY=VALUE\n", prog, argv[i]);
            return 0;
        }
        *eq = '\0';
        r = rd_kafka_conf_set(conf, argv[i], eq + 1, errstr, sizeof(errstr));
        if (r != RD_KAFKA_CONF_OK)
            fprintf(stderr, "%s: %s: %s\n", prog, argv[i], errstr);
        *eq = '=';
        if (r != RD_KAFKA_CONF_OK)
            return 0;
    }
    return 1;
}
