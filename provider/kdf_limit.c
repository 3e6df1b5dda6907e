/* Iteration counts, read from algorithm identifiers and checked against
 * the cap before any key derivation runs. */
#include <limits.h>
#include <stdint.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "kdf_limit.h"

long km_kdf_iterations(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *oid;
    const void *pval;
    int ptype;
    long iter = 0;

    if (alg == NULL)
        return 0;
    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    if (ptype != V_ASN1_SEQUENCE)
        return 0;
    if (OBJ_obj2nid(oid) == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);

        if (pbe2 == NULL)
            return 0;
        if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_scrypt) {
            /* scrypt's work is N * r * p block mixes: counted as rounds, the
             * usual N=16384, r=8, p=1 is 131072, far under the cap */
            SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
                                                          pbe2->keyfunc->parameter);
            uint64_t n = 0, r = 0, p = 0;

            if (sp == NULL || !ASN1_INTEGER_get_uint64(&n, sp->costParameter) ||
                !ASN1_INTEGER_get_uint64(&r, sp->blockSize) ||
                !ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter))
                iter = -1;
            else if (n > (uint64_t)LONG_MAX / (r ? r : 1) / (p ? p : 1))
                iter = LONG_MAX;
            else
                iter = (long)(n * r * p);
            SCRYPT_PARAMS_free(sp);
        } else if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
            PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
                                                         pbe2->keyfunc->parameter);
            if (kdf != NULL)
                iter = ASN1_INTEGER_get(kdf->iter);
            PBKDF2PARAM_free(kdf);
        }
        PBE2PARAM_free(pbe2);
        return iter;
    }
    {
        PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);

        if (pbe != NULL)
            iter = ASN1_INTEGER_get(pbe->iter);
        PBEPARAM_free(pbe);
    }
    return iter;
}

int km_kdf_allowed(long iter, const char *what, const char *path, km_status *st)
{
    if (iter >= 0 && iter <= KM_MAX_KDF_ITERATIONS)
        return 1;
    return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                   "%s: the %s asks for %ld key derivation iterations, more than the %ld allowed",
                   path, what, iter, KM_MAX_KDF_ITERATIONS);
}
