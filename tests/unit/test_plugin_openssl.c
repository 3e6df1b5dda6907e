/*
 * The plugin reads volumes in the application's default OpenSSL library
 * context, as librdkafka reads its own ssl.* files: what that leaves the
 * application, and what the application's choice of providers does to the
 * plugin. Each test runs in a process of its own (Check forks) in which
 * nothing touched OpenSSL before the test: the fixtures are made at build
 * time, and this program's main() makes no OpenSSL call.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <librdkafka/rdkafka.h>

#include "testutil.h"

static const char *plugin, *fixtures;
static char errstr[2048];

static rd_kafka_conf_t *conf_for(const char *volume, const char *rotation)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        { "plugin.library.paths", plugin },
        { "mtls.volume", volume },
        { "mtls.rotation", rotation },
        { "bootstrap.servers", "127.0.0.1:1" }, /* never reached: nothing is sent */
        { "log_level", "0" },
    };

    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        ck_assert_msg(rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof(errstr)) ==
                          RD_KAFKA_CONF_OK, "%s: %s", props[i][0], errstr);
    return conf;
}

static rd_kafka_t *client(const char *vol, const char *rotation)
{
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_for(tu_path(fixtures, vol), rotation), errstr,
                                  sizeof(errstr));

    ck_assert_msg(rk != NULL, "rd_kafka_new (%s, mtls.rotation=%s): %s", vol, rotation, errstr);
    return rk;
}

/* An application that configured no provider keeps OpenSSL's implicit
 * default provider, and the plugin's provider is in the same context
 * (where the volume was read). (librdkafka has brought the default
 * provider up before the plugin loads its own, so whether the plugin
 * would also keep the fallback in a context no one had used yet, as
 * OSSL_PROVIDER_try_load with retain_fallbacks does, is not seen here.) */
static void implicit_default_kept(const char *rotation)
{
    rd_kafka_t *rk = client("vol/cm", rotation);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA2-256", NULL);

    ck_assert_msg(md != NULL, "the application can no longer fetch SHA2-256 after mtls.rotation=%s", rotation);
    ck_assert(OSSL_PROVIDER_available(NULL, "default"));
    ck_assert_msg(OSSL_PROVIDER_available(NULL, "kafka-mtls"), "the plugin's provider is not in the context");
    EVP_MD_free(md);
    rd_kafka_destroy(rk);
}

START_TEST(implicit_default_provider_kept_restart)
{
    implicit_default_kept("restart");
}
END_TEST

START_TEST(implicit_default_provider_kept_live)
{
    implicit_default_kept("live");
}
END_TEST

/* An application that loads its own providers (legacy for old PKCS#12
 * files, default beside it) keeps them through clients made and
 * destroyed, and every volume format reads with them. */
START_TEST(application_providers_kept)
{
    static const char *const vols[] = { "vol/client-p12", "vol/client-jks", "vol/client-jceks", "vol/cm",
                                        "vol/spiffe" };
    OSSL_PROVIDER *legacy = OSSL_PROVIDER_load(NULL, "legacy"), *dflt = OSSL_PROVIDER_load(NULL, "default");

    ck_assert(legacy != NULL && dflt != NULL);
    for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++)
        rd_kafka_destroy(client(vols[i], i % 2 ? "live" : "restart"));
    ck_assert(OSSL_PROVIDER_available(NULL, "legacy"));
    ck_assert(OSSL_PROVIDER_available(NULL, "default"));
    OSSL_PROVIDER_unload(legacy);
    OSSL_PROVIDER_unload(dflt);
}
END_TEST

/* What the plugin logs, through the application's log callback. */
static char logged[8192];

static void keep_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac;
    if (strstr(buf, "kafka-mtls") != NULL && strlen(logged) + strlen(buf) + 2 < sizeof(logged))
        strcat(strcat(logged, buf), "\n");
}

/* The application's choice applies to the volume as it would to
 * librdkafka's own ssl.* files: with only the base provider (encoders and
 * decoders, no algorithms) the keystore cannot be read, and client
 * creation fails closed. librdkafka's own SSL_CTX_new fails first then
 * ("library has no ciphers"), so the plugin's reason, naming the
 * property, is in the application's log. */
START_TEST(application_without_algorithms_fails_closed)
{
    OSSL_PROVIDER *base = OSSL_PROVIDER_load(NULL, "base");
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;

    ck_assert(base != NULL);
    FAILING_NEW_BEGIN(); /* the conf stays (testutil.h) */
    conf = conf_for(tu_path(fixtures, "vol/client-p12"), "restart");
    rd_kafka_conf_set_log_cb(conf, keep_log);
    ck_assert(rd_kafka_conf_set(conf, "log_level", "7", errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
    logged[0] = '\0';
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    FAILING_NEW_END();
    ck_assert_msg(rk == NULL, "a client was made with no algorithms to read its keystore");
    ck_assert_msg(strstr(logged, "mtls.volume") != NULL, "the plugin logged no reason naming mtls.volume: "
                  "'%s' (rd_kafka_new: %s)", logged, errstr);
    OSSL_PROVIDER_unload(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin_openssl");
    TCase *tc = tcase_create("default library context");

    plugin = getenv("KMTLS_PLUGIN");
    fixtures = getenv("KMTLS_FIXTURES");
    if (plugin == NULL || fixtures == NULL) {
        fprintf(stderr, "KMTLS_PLUGIN and KMTLS_FIXTURES must be set\n");
        return 1;
    }
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, implicit_default_provider_kept_restart);
    tcase_add_test(tc, implicit_default_provider_kept_live);
    tcase_add_test(tc, application_providers_kept);
    tcase_add_test(tc, application_without_algorithms_fails_closed);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
