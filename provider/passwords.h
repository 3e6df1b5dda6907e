/* The store password for one file of a load: the first one found of the
 * caller's, ?password-file=, ALIAS_creds beside the store, the provider's
 * configured file, the application's passphrase prompt. */
#ifndef KMTLS_PASSWORDS_H
#define KMTLS_PASSWORDS_H

#include "kmtls/secret.h"
#include "kmtls/status.h"
#include "material.h"
#include "volume.h"

/* The passwords found while serving one request, each looked up at most once. */
typedef struct km_passwords {
    km_secret uri_file, conf_file, creds, prompt;
    const char *creds_path;  /* which creds file `creds` holds */
    int prompted;
} km_passwords;

/* *pw: the password for f, or NULL when there is none (the reader then
 * reports what it needed). 1, or 0 with st set (an unreadable file). */
int km_password_for(const km_request *rq, const km_file *f, km_passwords *c, const km_secret **pw,
                    km_status *st);
void km_passwords_clear(km_passwords *c);

#endif
