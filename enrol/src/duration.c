/* Go durations, as step-ca reads a sign request's "notAfter": one home
 * for the grammar, used to check a lifetime before a token is spent on it
 * (args.c) and by callers that compare lifetimes (the issuer). */
#include <string.h>

#include "kmtls/enrol.h"

#define DURATION_MAX 32

int km_enrol_duration(const char *s, double *seconds)
{
    static const struct {
        const char *name;
        double seconds;
    } units[] = { { "ns", 1e-9 }, { "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 } };
    double total = 0;
    size_t len = s != NULL ? strlen(s) : 0;

    if (len == 0 || len > DURATION_MAX)
        return 0;
    while (*s != '\0') {
        double v = 0, scale = 1;
        size_t u, ulen = 0;

        if (*s < '0' || *s > '9')
            return 0;
        /* by hand, not strtod: the application's locale may not spell
         * the decimal point '.' */
        while (*s >= '0' && *s <= '9')
            v = v * 10 + (*s++ - '0');
        if (*s == '.') {
            if (*++s < '0' || *s > '9')
                return 0;
            while (*s >= '0' && *s <= '9')
                v += (*s++ - '0') * (scale /= 10);
        }
        /* "ms" is tried before "m": the table's order matters */
        for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            ulen = strlen(units[u].name);
            if (strncmp(s, units[u].name, ulen) == 0)
                break;
        }
        if (u == sizeof(units) / sizeof(units[0]))
            return 0;
        total += v * units[u].seconds;
        s += ulen;
    }
    if (seconds != NULL)
        *seconds = total;
    return 1;
}
