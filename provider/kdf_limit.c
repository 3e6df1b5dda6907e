/*
 * Iteration counts come from the file: a hostile volume could ask for
 * billions of PBKDF2 rounds and stall every client start. Counts are
 * checked before any key derivation runs.
 */
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "keystore.h"

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
        if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
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
