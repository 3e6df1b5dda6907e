/*
 * Who may read the CA key and its password file. Whoever reads them can
 * mint any certificate the CA signs, the broker's super user included: a
 * key (or password file) readable by group or others is refused before
 * anything is issued, unless the option the caller names allows it, and
 * then every issuance says so.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "issue_internal.h"
#include "kafka-mtls.h"

static int private_file(const char *path, const char *what, const km_issue_request *rq, char *warning,
                        size_t n, km_status *st)
{
    struct stat sb;

    if (path == NULL)
        return 1;
    if (stat(path, &sb) != 0)
        return km_fail_errno(st, errno == ENOENT ? KAFKA_MTLS_R_NOT_FOUND : KAFKA_MTLS_R_READ_FAILED, errno,
                             "%s %s", what, path);
    if ((sb.st_mode & 077) == 0)
        return 1;
    if (!rq->ca_key_insecure_ok)
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s %s is readable by group or others (mode %04o): whoever reads it can mint any "
                       "certificate the CA signs; chmod 600 it, or allow it with %s", what, path,
                       (unsigned)(sb.st_mode & 07777),
                       rq->ca_key_insecure_option != NULL ? rq->ca_key_insecure_option : "the issuer's option");
    if (warning[0] == '\0')
        snprintf(warning, n, "%s %s is readable by group or others (mode %04o), allowed by %s; chmod 600 it",
                 what, path, (unsigned)(sb.st_mode & 07777),
                 rq->ca_key_insecure_option != NULL ? rq->ca_key_insecure_option : "the issuer's option");
    return 1;
}

int km_ca_files_private(const km_issue_request *rq, char *warning, size_t n, km_status *st)
{
    warning[0] = '\0';
    return private_file(rq->ca_key, "CA key", rq, warning, n, st) &&
           private_file(rq->ca_key_password_file, "CA key password file", rq, warning, n, st);
}
