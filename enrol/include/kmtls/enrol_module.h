/*
 * kmtls-enrol as a module loaded on first use. libcurl and what it pulls in
 * (GnuTLS, Kerberos, LDAP, ... 25 libraries on Debian) cost about 5 ms at
 * every process start that loads them, which a librdkafka client that
 * never enrols should not pay. So the plugin does not link kmtls-enrol: it
 * links enrol_lazy (src/lazy.c), which implements kmtls/enrol.h by loading
 * KM_ENROL_MODULE_FILE from the plugin's own directory the first time a
 * call needs libcurl or json-c, and forwarding to the table the module
 * exports (the pure calls, km_enrol_duration and km_enrol_reason_name, are
 * linked in).
 * The command links kmtls-enrol directly.
 */
#ifndef KMTLS_ENROL_MODULE_H
#define KMTLS_ENROL_MODULE_H

#include "kmtls/enrol.h"

#define KM_ENROL_MODULE_FILE "kafka-mtls-enrol.so"
#define KM_ENROL_MODULE_SYMBOL "km_enrol_module_v1"
/* Bumped whenever the table or a signature in kmtls/enrol.h changes: a
 * module left over from another build is refused, never called. */
#define KM_ENROL_MODULE_VERSION 1

typedef struct km_enrol_module {
    int version;                  /* KM_ENROL_MODULE_VERSION */
    size_t size;                  /* sizeof(km_enrol_module) */
    __typeof__(km_enrol_csr_new) *csr_new;
    __typeof__(km_enrol_sign) *sign;
    __typeof__(km_enrol_rekey) *rekey;
    __typeof__(km_enrol_renew) *renew;
    __typeof__(km_enrol_token_subject) *token_subject;
} km_enrol_module;

#endif
