/* The HTTPS exchange, over libcurl's easy interface: one handle and one
 * connection per call, so calls from many threads share nothing but the
 * process-wide libcurl initialisation. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "fail.h"
#include "http.h"
#include "tls.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static char global_error[200];  /* "" when libcurl is usable */

/* curl_global_init is not thread-safe in every libcurl version and must
 * run before any handle exists; a library cannot know whether its
 * application called it, so it calls it once itself (libcurl counts the
 * calls). curl_global_cleanup is never called: another user of libcurl in
 * the process (librdkafka, the application) may still need it. */
static void global_init(void)
{
    curl_version_info_data *v;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        strcpy(global_error, "curl_global_init failed");
        return;
    }
    v = curl_version_info(CURLVERSION_NOW);
    if (v->version_num < 0x075500) {  /* CURLOPT_PROTOCOLS_STR */
        snprintf(global_error, sizeof(global_error),
                 "libcurl %s is too old (7.85.0 or later is needed)", v->version);
        return;
    }
    /* The SSL_CTX hook (tls.c) hands libcurl's TLS library OpenSSL 3
     * objects; another backend, or another OpenSSL, would misread them. */
    if (v->ssl_version == NULL || strncmp(v->ssl_version, "OpenSSL/3.", 10) != 0)
        snprintf(global_error, sizeof(global_error),
                 "libcurl's TLS library is %s, not OpenSSL 3 (install libcurl4-openssl-dev's libcurl)",
                 v->ssl_version != NULL ? v->ssl_version : "none");
}

int kme_http_global_init(char *err, size_t n)
{
    pthread_once(&global_once, global_init);
    if (global_error[0] != '\0') {
        kme_fail(err, n, KM_ENROL_INTERNAL, "%s", global_error);
        return 0;
    }
    return 1;
}

typedef struct sink {
    char *buf;
    size_t len;
    size_t cap;
    int too_large;
    int no_memory;
} sink;

/* Keeps the body, refusing (and so aborting the transfer) past the cap:
 * a chunked body has no length to refuse up front. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t len = size * nmemb;

    if (len > KM_ENROL_MAX_RESPONSE - s->len) {
        s->too_large = 1;
        return 0;
    }
    if (s->len + len + 1 > s->cap) {
        size_t cap = s->cap == 0 ? 16384 : s->cap;
        char *p;

        while (cap < s->len + len + 1)
            cap *= 2;
        if (cap > KM_ENROL_MAX_RESPONSE + 1)
            cap = KM_ENROL_MAX_RESPONSE + 1;
        if ((p = realloc(s->buf, cap)) == NULL) {
            s->no_memory = 1;
            return 0;
        }
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

/* The options that make the exchange what enrol/README.md says it is. Any
 * failure to set one is fatal: a silently ignored option would weaken it. */
static CURLcode configure(CURL *h, const kme_http_request *req, struct curl_slist *headers,
                          sink *body, kme_tls *tls, char *curl_err)
{
    CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_ERRORBUFFER, curl_err);
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);  /* a redirect is an answer, not an instruction */
    /* Direct connections only: https_proxy/HTTPS_PROXY/ALL_PROXY in the
     * environment are ignored (enrol/README.md, "Proxies"). */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    /* The hook (tls.c) replaces whatever libcurl loads with req->roots;
     * naming our small file here keeps libcurl from parsing the system
     * bundle (~140 certificates) only for it to be discarded. */
    SET(CURLOPT_CAINFO, req->ca_file);
    SET(CURLOPT_CAPATH, (char *)NULL);
    SET(CURLOPT_SSL_OPTIONS, (long)CURLSSLOPT_NO_PARTIALCHAIN);
    SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
#if LIBCURL_VERSION_NUM >= 0x075700
    SET(CURLOPT_CA_CACHE_TIMEOUT, 0L);  /* nothing kept between calls */
#endif
    SET(CURLOPT_SSL_CTX_FUNCTION, kme_tls_on_ctx);
    SET(CURLOPT_SSL_CTX_DATA, tls);
    /* No signals (SIGALRM for timeouts): a library in a threaded
     * application must not use them. libcurl's resolver is threaded. */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_USERAGENT, "kafka-mtls-enrol/1");
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body != NULL ? req->body_len : 0));
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)KM_ENROL_MAX_RESPONSE);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, body);
#undef SET
    return rc;
}

/* What a failed curl_easy_perform means for the caller. */
static km_enrol_reason classify(CURLcode rc, const kme_http_request *req,
                                const sink *body, const kme_tls *tls, const char *curl_err,
                                char *err, size_t n)
{
    const char *why = curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc);

    if (tls->install_failed)
        return kme_fail(err, n, KM_ENROL_INTERNAL,
                        "cannot set up the TLS context (client certificate or roots)");
    if (body->no_memory || rc == CURLE_OUT_OF_MEMORY)
        return kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
    if (body->too_large)
        return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                        "the response body is larger than %d bytes", KM_ENROL_MAX_RESPONSE);
    switch (rc) {
    case CURLE_FILESIZE_EXCEEDED:
        return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                        "the response announces a body larger than %d bytes",
                        KM_ENROL_MAX_RESPONSE);
    case CURLE_OPERATION_TIMEDOUT:
        return kme_fail(err, n, KM_ENROL_TIMEOUT, "%s", why);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return kme_fail(err, n, KM_ENROL_UNREACHABLE, "%s", why);
    case CURLE_PEER_FAILED_VERIFICATION:
        return kme_fail(err, n, KM_ENROL_TLS, "the service's certificate is not trusted: %s "
                        "(verified against %s)", why, req->ca_file);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "not an HTTP/1.1 answer: %s", why);
    default:
        break;
    }
    if (tls->alert >= 0) {
        if (req->client_cert != NULL && kme_tls_alert_refuses_cert(tls->alert))
            return kme_fail(err, n, KM_ENROL_CERT_REFUSED, "TLS alert %s (%d)",
                            kme_tls_alert_text(tls->alert), tls->alert & 0xff);
        return kme_fail(err, n, KM_ENROL_TLS, "the service ended TLS with alert %s (%d)",
                        kme_tls_alert_text(tls->alert), tls->alert & 0xff);
    }
    if (rc == CURLE_SSL_CONNECT_ERROR)
        return kme_fail(err, n, KM_ENROL_TLS, "the TLS handshake failed: %s", why);
    return kme_fail(err, n, KM_ENROL_UNREACHABLE, "the connection ended without an answer: %s "
                    "(curl error %d)", why, (int)rc);
}

km_enrol_reason kme_http_post(const kme_http_request *req, kme_http_response *resp,
                              char *err, size_t n)
{
    km_enrol_reason r;
    CURL *h = NULL;
    struct curl_slist *headers = NULL, *more;
    sink body = { 0 };
    kme_tls tls;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURLcode rc;

    memset(resp, 0, sizeof(*resp));
    if (!kme_http_global_init(err, n))
        return KM_ENROL_INTERNAL;
    kme_tls_init(&tls, req->roots, req->client_cert, req->client_key, req->client_chain);
    /* "Expect:" turns off 100-continue: no waiting for a go-ahead that
     * step-ca never sends. */
    static const char *const lines[] = {
        "Content-Type: application/json", "Accept: application/json", "Expect:",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if ((more = curl_slist_append(headers, lines[i])) == NULL) {
            r = kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
            goto done;
        }
        headers = more;
    }
    if ((h = curl_easy_init()) == NULL) {
        r = kme_fail(err, n, KM_ENROL_INTERNAL, "curl_easy_init failed");
        goto done;
    }
    if ((rc = configure(h, req, headers, &body, &tls, curl_err)) != CURLE_OK) {
        r = kme_fail(err, n, KM_ENROL_INTERNAL, "libcurl refused an option: %s",
                     curl_easy_strerror(rc));
        goto done;
    }
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        r = classify(rc, req, &body, &tls, curl_err, err, n);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (body.buf == NULL && (body.buf = calloc(1, 1)) == NULL) {
        r = kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        goto done;
    }
    resp->body = body.buf;
    resp->len = body.len;
    body.buf = NULL;
    r = KM_ENROL_OK;
done:
    /* The connection (and its SSL_CTX, which points at tls) ends here. */
    if (h != NULL)
        curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    free(body.buf);
    return r;
}

void kme_http_response_clear(kme_http_response *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}
