/* keystore: URIs, parsed (see include/kafka-mtls.h for the grammar;
 * kmtls_store_uri builds them). */
#ifndef KMTLS_URI_H
#define KMTLS_URI_H

#include "kmtls/status.h"

typedef enum km_part { KM_PART_ALL = 0, KM_PART_KEYSTORE, KM_PART_TRUSTSTORE } km_part;

typedef struct km_uri {
    char *path;          /* absolute, percent-decoded */
    char *alias;         /* NULL unless ?alias= */
    char *password_file; /* NULL unless ?password-file= */
    km_part part;
    const char *name;    /* borrowed: the volume's name (the default alias);
                          * NULL = the last component of path */
} km_uri;

/* 1 if uri carries our scheme (case-insensitive). */
int km_uri_has_scheme(const char *uri);
int km_uri_parse(const char *uri, km_uri *out, km_status *st);
void km_uri_clear(km_uri *u);

#endif
