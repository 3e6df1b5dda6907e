#ifndef KMTLS_BENCH_CONF_H
#define KMTLS_BENCH_CONF_H
#include <librdkafka/rdkafka.h>

/* The benchmark programs' KEY=VALUE arguments argv[from..argc) set on
 * conf, argv left as it was. 1, or 0 after saying why on stderr, prog
 * first. */
int bench_conf_args(rd_kafka_conf_t *conf, char **argv, int from, int argc, const char *prog);

#endif
