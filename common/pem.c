/* km_pem_each: PEM_read_bio until libcrypto says "no start line". */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "kmtls/pem.h"

static km_pem_kind kind_of(const char *name, const char *header)
{
    size_t n = strlen(name);

    if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
        strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
        return KM_PEM_CERT;
    if (n < 11 || strcmp(name + n - 11, "PRIVATE KEY") != 0)
        return KM_PEM_OTHER;
    /* PKCS#8 says so in its name, a traditional key in its Proc-Type header */
    return strcmp(name, PEM_STRING_PKCS8) == 0 || strstr(header, "ENCRYPTED") != NULL ? KM_PEM_ENCRYPTED_KEY
                                                                                      : KM_PEM_KEY;
}

int km_pem_each(const unsigned char *buf, size_t len, int (*each)(const km_pem_block *b, void *arg),
                void *arg, int *blocks)
{
    BIO *in = len <= (size_t)0x7fffffff ? BIO_new_mem_buf(buf, (int)len) : NULL;
    int result = KM_PEM_DAMAGED, n = 0;

    ERR_set_mark();
    while (in != NULL) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        int go;

        if (!PEM_read_bio(in, &name, &header, &data, &dlen)) {
            /* the end of the text reads as "no start line"; anything else
             * is a damaged block */
            if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE && n > 0)
                result = KM_PEM_DONE;
            break;
        }
        km_pem_block b = { .number = ++n, .kind = kind_of(name, header), .name = name, .header = header,
                           .data = data, .len = dlen };
        go = each(&b, arg);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, dlen > 0 ? (size_t)dlen : 0);
        if (!go) {
            result = KM_PEM_STOPPED;
            break;
        }
    }
    BIO_free(in);
    ERR_pop_to_mark();
    if (blocks != NULL)
        *blocks = n;
    return result;
}
