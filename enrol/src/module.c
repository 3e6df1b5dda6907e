/* The table kafka-mtls-enrol.so exports (kmtls/enrol_module.h): its only
 * public symbol (module.map). */
#include "kmtls/enrol_module.h"

__attribute__((visibility("default"))) const km_enrol_module km_enrol_module_v1 = {
    .version = KM_ENROL_MODULE_VERSION,
    .size = sizeof(km_enrol_module),
    .csr_new = km_enrol_csr_new,
    .sign = km_enrol_sign,
    .rekey = km_enrol_rekey,
    .renew = km_enrol_renew,
    .token_subject = km_enrol_token_subject,
};
