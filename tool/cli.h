/* Shared by the subcommands of the `kafka-mtls` command. */
#ifndef KMTLS_CLI_H
#define KMTLS_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <openssl/types.h>

#include "kmtls/provider.h"
#include "kmtls/secret.h"

/* Exit codes (documented in `kafka-mtls --help`). */
enum {
    KM_EXIT_OK = 0,        /* issue: issued, renewed or still fresh; inspect: ready and valid */
    KM_EXIT_FAIL = 1,      /* failure; the message names the file and the cause */
    KM_EXIT_USAGE = 2,     /* bad command line */
    KM_EXIT_NOT_READY = 3, /* inspect: the volume is not ready (no ALIAS_creds or no keystore yet) */
    KM_EXIT_EXPIRED = 4    /* inspect: the certificate is expired or not yet valid */
};

/* kmtls_libctx_new, or NULL with a message on stderr. */
kmtls_libctx *km_cli_libctx(void);

/* The usage lines; with full, the whole help (options, exit codes). */
void km_cli_help(FILE *out, int full);

/* Reads a one-line password file; 1, or 0 with a message on stderr. */
int km_cli_password_file(const char *path, const char *what, km_secret *out);

/* in with control characters (C0, DEL, C1) and bytes that are not UTF-8
 * shown as \xHH, into out: for anything from a volume or a certificate
 * that is printed to a terminal. Returns out. */
const char *km_cli_safe(const char *in, char *out, size_t n);

/* "2026-02-25 21:57:00 UTC" */

int km_cmd_issue(int argc, char **argv);
int km_cmd_inspect(int argc, char **argv);

#endif
