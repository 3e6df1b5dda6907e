/* Bounded, secret-aware file reading shared by the volume and password code. */
#ifndef KMTLS_FILES_H
#define KMTLS_FILES_H

#include <stddef.h>
#include "keystore.h"

/* No keystore, truststore or PEM bundle a client uses comes near this. */
#define KM_MAX_FILE_SIZE (4u << 20)
#define KM_MAX_PASSWORD_FILE 4096u

/*
 * Reads a whole regular file (at most max bytes) into *buf (NUL-terminated,
 * free with OPENSSL_clear_free(*buf, *len + 1)). what names the file's role
 * in messages ("keystore", "password file"). 1 on success, 0 with st set.
 */
int km_read_file(const char *path, const char *what, size_t max,
                 unsigned char **buf, size_t *len, km_status *st);

/* Reads a password file: one line; a trailing "\n" or "\r\n" is not part of
 * the password. reason_missing is the reason used when the file is absent. */
int km_read_password_file(const char *path, int reason_missing, km_secret *out, km_status *st);

/* Copies bytes into a NUL-terminated secret. */
int km_secret_set(km_secret *s, const void *data, size_t len);

#endif
