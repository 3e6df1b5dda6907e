/*
 * Log lines for cfg.log: "kafka-mtls: broker HOST:PORT: <what happened>".
 * The prefix and the broker are what an operator greps for; librdkafka's own
 * line for the same failure ("Connect to ... failed: Connection reset by
 * peer") cannot carry the TLS reason, so this line must.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

void km_log(km_transport *t, int level, const char *broker, const char *fmt, ...)
{
    char line[1024];
    int n;
    va_list ap;

    if (t->cfg.log == NULL)
        return;
    if (broker != NULL)
        n = snprintf(line, sizeof(line), "kafka-mtls: broker %s: ", broker);
    else
        n = snprintf(line, sizeof(line), "kafka-mtls: ");
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    t->cfg.log(t->cfg.log_opaque, level, line);
}
