/* Secrets: copied into fresh memory, cleansed when dropped. */
#include <string.h>
#include <openssl/crypto.h>

#include "kmtls/secret.h"

int km_secret_set(km_secret *s, const void *data, size_t len)
{
    km_secret_clear(s);
    if ((s->data = OPENSSL_malloc(len + 1)) == NULL)
        return 0;
    memcpy(s->data, data, len);
    s->data[len] = '\0';
    s->len = len;
    return 1;
}

void km_secret_clear(km_secret *s)
{
    if (s == NULL)
        return;
    OPENSSL_clear_free(s->data, s->len + 1);
    s->data = NULL;
    s->len = 0;
}

void km_secret_free_str(char *s)
{
    if (s != NULL)
        OPENSSL_clear_free(s, strlen(s) + 1);
}
