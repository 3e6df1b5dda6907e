/* keystore: URI parsing: what users type and what they get told. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kafka-mtls.h"
#include "testutil.h"
#include "uri.h"

static km_uri u;
static km_status st;

static void setup(void)
{
    memset(&u, 0, sizeof(u));
    memset(&st, 0, sizeof(st));
}

static void teardown(void)
{
    km_uri_clear(&u);
}

START_TEST(plain_volume)
{
    ck_assert_int_eq(km_uri_parse("keystore:/keystore/client1", &u, &st), 1);
    ck_assert_str_eq(u.path, "/keystore/client1");
    ck_assert_ptr_null(u.alias);
    ck_assert_int_eq(u.part, KM_PART_ALL);
}
END_TEST

START_TEST(triple_slash_case_and_trailing_slash)
{
    ck_assert_int_eq(km_uri_parse("KeyStore:///keystore/client1/", &u, &st), 1);
    ck_assert_str_eq(u.path, "/keystore/client1");
}
END_TEST

START_TEST(parameters_and_escapes)
{
    ck_assert_int_eq(km_uri_parse("keystore:/v/my%20dir?alias=c%31&part=truststore"
                                  "&password-file=/run/pw", &u, &st), 1);
    ck_assert_str_eq(u.path, "/v/my dir");
    ck_assert_str_eq(u.alias, "c1");
    ck_assert_str_eq(u.password_file, "/run/pw");
    ck_assert_int_eq(u.part, KM_PART_TRUSTSTORE);
}
END_TEST

static void expect_error(const char *uri, int reason, const char *text)
{
    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(km_uri_parse(uri, &u, &st), 0);
    ck_assert_int_eq(st.reason, reason);
    ck_assert_msg(strstr(st.msg, text) != NULL, "message '%s' lacks '%s'", st.msg, text);
    km_uri_clear(&u);
}

START_TEST(errors)
{
    expect_error("keystore:relative/dir", KAFKA_MTLS_R_RELATIVE_PATH, "must be absolute");
    expect_error("keystore:", KAFKA_MTLS_R_BAD_URI, "no path");
    expect_error("keystore://host/dir", KAFKA_MTLS_R_BAD_URI, "host is not allowed");
    expect_error("keystore:/v?alais=x", KAFKA_MTLS_R_BAD_URI, "unknown parameter 'alais'");
    expect_error("keystore:/v?part=both", KAFKA_MTLS_R_BAD_URI, "expected 'keystore' or 'truststore'");
    expect_error("keystore:/v?alias=a&alias=b", KAFKA_MTLS_R_BAD_URI, "given twice");
    expect_error("keystore:/v?alias=", KAFKA_MTLS_R_BAD_URI, "is empty");
    expect_error("keystore:/ks/c1?alias=../c2/c2", KAFKA_MTLS_R_BAD_URI, "must not contain '/'");
    expect_error("keystore:/v?alias", KAFKA_MTLS_R_BAD_URI, "has no value");
    expect_error("keystore:/v%zz", KAFKA_MTLS_R_BAD_URI, "percent-escape");
    expect_error("keystore:/v%00x", KAFKA_MTLS_R_BAD_URI, "percent-escape");
    expect_error("keystore:/v%4", KAFKA_MTLS_R_BAD_URI, "percent-escape");
    expect_error("keystore:/v?password-file=pw", KAFKA_MTLS_R_RELATIVE_PATH, "absolute");
    expect_error("file:/v", KAFKA_MTLS_R_BAD_URI, "not a keystore: URI");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("uri");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_volume);
    tcase_add_test(tc, triple_slash_case_and_trailing_slash);
    tcase_add_test(tc, parameters_and_escapes);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
