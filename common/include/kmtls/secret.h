/* A password as bytes (UTF-8 as typed), NUL-terminated; every copy is
 * cleansed when it is dropped. */
#ifndef KMTLS_SECRET_H
#define KMTLS_SECRET_H

#include <stddef.h>

typedef struct km_secret {
    char *data;
    size_t len;
} km_secret;

/* Replaces s with a copy of data. 0 on out of memory (s is then empty). */
int km_secret_set(km_secret *s, const void *data, size_t len);
void km_secret_clear(km_secret *s);
/* Cleanses and frees a NUL-terminated string holding a secret. */
void km_secret_free_str(char *s);

#endif
