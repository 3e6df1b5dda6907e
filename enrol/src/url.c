/* Endpoint URLs through curl_url(). */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "fail.h"
#include "url.h"

/* 1 when the URL has the part (a user, a query, ...). */
static int has_part(CURLU *u, CURLUPart part)
{
    char *s = NULL;
    CURLUcode rc = curl_url_get(u, part, &s, 0);

    curl_free(s);
    return rc == CURLUE_OK;
}

km_enrol_reason kme_endpoint(const char *base, const char *path, char **out,
                             char *err, size_t n)
{
    km_enrol_reason r = KM_ENROL_BAD_ARGUMENT;
    CURLU *u = curl_url();
    char *scheme = NULL, *old = NULL, *joined = NULL, *url = NULL;
    size_t len;

    *out = NULL;
    if (u == NULL)
        return kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
    /* No guessing: "host:port" without a scheme is refused, not taken as
     * http. */
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK) {
        kme_fail(err, n, r, "the service URL '%s' is not an absolute URL", base);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcmp(scheme, "https") != 0) {
        kme_fail(err, n, r, "the service URL '%s' is not https (the token and the certificate "
                 "request are never sent in the clear)", base);
        goto done;
    }
    if (!has_part(u, CURLUPART_HOST)) {
        kme_fail(err, n, r, "the service URL '%s' has no host", base);
        goto done;
    }
    if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
        has_part(u, CURLUPART_OPTIONS)) {
        /* Not echoed: the part refused may be a password. */
        kme_fail(err, n, r, "the service URL has a user or password (authentication is the "
                 "token or the client certificate, never the URL)");
        goto done;
    }
    if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)) {
        kme_fail(err, n, r, "the service URL '%s' has a query or fragment (give the base URL, "
                 "e.g. https://ca.example:9000)", base);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PATH, &old, 0) != CURLUE_OK) {
        kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        goto done;
    }
    len = strlen(old);
    while (len > 0 && old[len - 1] == '/')
        len--;
    if ((joined = malloc(len + strlen(path) + 1)) == NULL) {
        kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        goto done;
    }
    memcpy(joined, old, len);
    strcpy(joined + len, path);
    if (curl_url_set(u, CURLUPART_PATH, joined, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        kme_fail(err, n, KM_ENROL_INTERNAL, "cannot build the endpoint URL from '%s'", base);
        goto done;
    }
    if ((*out = strdup(url)) == NULL) {
        kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        goto done;
    }
    r = KM_ENROL_OK;
done:
    curl_free(url);
    free(joined);
    curl_free(old);
    curl_free(scheme);
    curl_url_cleanup(u);
    return r;
}
