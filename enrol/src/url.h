/* The endpoint URLs, built from the configured base URL with libcurl's URL
 * API (no URL parsing of our own). */
#ifndef KME_URL_H
#define KME_URL_H

#include <stddef.h>
#include "kmtls/enrol.h"

/* *out = base + path (path e.g. "/1.0/sign"; a trailing '/' of base is
 * dropped), or KM_ENROL_BAD_ARGUMENT with the cause in err[n]: base is not
 * an absolute https URL with a host, or it has a user, password, query or
 * fragment (a credential in a URL ends up in logs; a query would be
 * ambiguous with the path appended). *out is freed with free(). */
km_enrol_reason kme_endpoint(const char *base, const char *path, char **out,
                             char *err, size_t n);

#endif
