/* Password lookup for a load, in the order README's "Password lookup" gives. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "kafka-mtls.h"
#include "kmtls/files.h"
#include "kmtls/trace.h"
#include "passwords.h"

void km_passwords_clear(km_passwords *c)
{
    km_secret_clear(&c->uri_file);
    km_secret_clear(&c->conf_file);
    km_secret_clear(&c->creds);
    km_secret_clear(&c->prompt);
}

static int ask_callback(const km_request *rq, const km_file *f, km_passwords *c, km_status *st)
{
    char buf[1024];
    size_t len = 0;
    char info[600];
    OSSL_PARAM params[2];
    int ok;

    c->prompted = 1;
    if (rq->pw_cb == NULL)
        return 1;
    snprintf(info, sizeof(info), "keystore %s", f->path);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, info, 0);
    params[1] = OSSL_PARAM_construct_end();
    ERR_set_mark();
    ok = rq->pw_cb(buf, sizeof(buf) - 1, &len, params, rq->pw_cbarg);
    ERR_pop_to_mark();
    /* A refused prompt is not an error here: the reader reports the
     * missing password with the file it was needed for. */
    ok = !ok || km_secret_set(&c->prompt, buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok ? 1 : km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
}

/* A named password file, read once per load into *slot. */
static int named_file(const char *path, int missing_reason, km_secret *slot, const km_secret **pw,
                      km_status *st)
{
    if (slot->data == NULL && !km_read_password_at(AT_FDCWD, path, path, missing_reason, 0, slot, st))
        return 0;
    *pw = slot;
    return 1;
}

int km_password_for(const km_request *rq, const km_file *f, km_passwords *c, const km_secret **pw,
                    km_status *st)
{
    *pw = NULL;
    if (rq->password != NULL && rq->password->data != NULL) {
        km_trace("%s: the password the program gave", f->path);
        *pw = rq->password;
        return 1;
    }
    if (rq->uri->password_file != NULL) {
        km_trace("%s: the password in %s (?password-file=)", f->path, rq->uri->password_file);
        return named_file(rq->uri->password_file, KAFKA_MTLS_R_PASSWORD_FILE, &c->uri_file, pw, st);
    }
    if (f->creds != NULL) {
        km_trace("%s: the password in %s, beside it", f->path, f->creds);
        if (c->creds_path == NULL || strcmp(c->creds_path, f->creds) != 0) {
            km_secret_clear(&c->creds);
            c->creds_path = NULL;
            if (!km_read_password_at(AT_FDCWD, f->creds, f->creds, KAFKA_MTLS_R_NOT_READY, 0, &c->creds, st))
                return 0;
            c->creds_path = f->creds;
        }
        *pw = &c->creds;
        return 1;
    }
    if (rq->conf_password_file != NULL) {
        km_trace("%s: the password in %s (the provider's password-file)", f->path, rq->conf_password_file);
        return named_file(rq->conf_password_file, KAFKA_MTLS_R_PASSWORD_FILE, &c->conf_file, pw, st);
    }
    if (!c->prompted && !ask_callback(rq, f, c, st))
        return 0;
    km_trace("%s: %s", f->path, c->prompt.data != NULL ? "the password from the application's prompt"
                                                       : "no password found");
    if (c->prompt.data != NULL)
        *pw = &c->prompt;
    return 1;
}
