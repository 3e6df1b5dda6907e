/*
 * Kafka frame accounting (transport/frames.c) on hand-built frames: request
 * boundaries, which requests expect a response (Produce acks=0 does not),
 * for every Produce header/body layout, fed whole and one byte at a time.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"

typedef struct buf {
    unsigned char b[4096];
    size_t n;
} buf;

static void u8(buf *x, unsigned v) { x->b[x->n++] = (unsigned char)v; }
static void i16(buf *x, int v) { u8(x, (unsigned)v >> 8 & 0xff); u8(x, (unsigned)v & 0xff); }
static void i32(buf *x, long v)
{
    i16(x, (int)((unsigned long)v >> 16 & 0xffff));
    i16(x, (int)((unsigned long)v & 0xffff));
}
static void uvarint(buf *x, unsigned v)
{
    while (v >= 0x80) {
        u8(x, (v & 0x7f) | 0x80);
        v >>= 7;
    }
    u8(x, v);
}
static void str16(buf *x, const char *s)
{
    if (s == NULL) {
        i16(x, -1);
        return;
    }
    i16(x, (int)strlen(s));
    memcpy(x->b + x->n, s, strlen(s));
    x->n += strlen(s);
}
static void compact(buf *x, const char *s)
{
    if (s == NULL) {
        uvarint(x, 0);
        return;
    }
    uvarint(x, (unsigned)strlen(s) + 1);
    memcpy(x->b + x->n, s, strlen(s));
    x->n += strlen(s);
}
/* the length prefix, once the frame is complete */
static void seal(buf *x)
{
    unsigned long len = x->n - 4;
    x->b[0] = (unsigned char)(len >> 24);
    x->b[1] = (unsigned char)(len >> 16);
    x->b[2] = (unsigned char)(len >> 8);
    x->b[3] = (unsigned char)len;
}

/* A Produce request of version ver with acks, with a body behind acks. */
static buf produce(int ver, int acks, const char *cid, const char *txn, int ntags)
{
    buf x = {.n = 4};
    i16(&x, 0);
    i16(&x, ver);
    i32(&x, 4242);
    str16(&x, cid);
    if (ver >= 9) {
        uvarint(&x, (unsigned)ntags);
        for (int i = 0; i < ntags; i++) {
            uvarint(&x, (unsigned)i);
            uvarint(&x, 3);
            u8(&x, 0xaa), u8(&x, 0xbb), u8(&x, 0xcc);
        }
        compact(&x, txn);
    } else if (ver >= 3) {
        str16(&x, txn);
    }
    i16(&x, acks);
    i32(&x, 30000);               /* timeout_ms */
    for (int i = 0; i < 200; i++) /* stands for the topic data */
        u8(&x, (unsigned)i);
    seal(&x);
    return x;
}

static buf apiversions(void)
{
    buf x = {.n = 4};
    i16(&x, 18);
    i16(&x, 0);
    i32(&x, 7);
    str16(&x, "rdkafka");
    seal(&x);
    return x;
}

static void feed_whole(km_frames *f, const buf *x)
{
    km_frames_feed(f, x->b, x->n);
}

static void feed_bytes(km_frames *f, const buf *x)
{
    for (size_t i = 0; i < x->n; i++) {
        ck_assert(i == 0 || !km_frames_at_boundary(f));
        km_frames_feed(f, x->b + i, 1);
    }
}

static void expect_one(const buf *x, int responds)
{
    for (int split = 0; split < 2; split++) {
        km_frames f;
        km_frames_init(&f, 1);
        (split ? feed_bytes : feed_whole)(&f, x);
        ck_assert_uint_eq(f.frames, 1);
        ck_assert_uint_eq(f.expecting, responds ? 1 : 0);
        ck_assert_uint_eq(f.no_response, responds ? 0 : 1);
        ck_assert(km_frames_at_boundary(&f));
        ck_assert_uint_eq(km_frames_to_boundary(&f), 0);
    }
}

START_TEST(non_produce_expects_response)
{
    buf x = apiversions();
    expect_one(&x, 1);
}
END_TEST

START_TEST(produce_v0_to_v2)
{
    for (int v = 0; v <= 2; v++) {
        buf a0 = produce(v, 0, "rdkafka", NULL, 0), a1 = produce(v, 1, "rdkafka", NULL, 0),
            all = produce(v, -1, NULL, NULL, 0);
        expect_one(&a0, 0);
        expect_one(&a1, 1);
        expect_one(&all, 1);
    }
}
END_TEST

START_TEST(produce_v3_to_v8_transactional_id)
{
    for (int v = 3; v <= 8; v++) {
        buf nul = produce(v, 0, "rdkafka", NULL, 0), txn = produce(v, 0, "c", "txn-1", 0),
            empty = produce(v, 0, "", "", 0), acked = produce(v, -1, "rdkafka", "txn-1", 0);
        expect_one(&nul, 0);
        expect_one(&txn, 0);
        expect_one(&empty, 0);
        expect_one(&acked, 1);
    }
}
END_TEST

START_TEST(produce_flexible_with_tags)
{
    for (int v = 9; v <= 11; v++)
        for (int tags = 0; tags <= 2; tags++) {
            buf nul = produce(v, 0, "rdkafka", NULL, tags), txn = produce(v, 0, NULL, "t", tags),
                acked = produce(v, 1, "rdkafka", "t", tags);
            expect_one(&nul, 0);
            expect_one(&txn, 0);
            expect_one(&acked, 1);
        }
}
END_TEST

START_TEST(truncated_produce_counts_as_expecting)
{
    /* a frame that ends before acks: wait for a response (the safe side) */
    buf x = {.n = 4};
    i16(&x, 0);
    i16(&x, 3);
    i32(&x, 1);
    str16(&x, "rdkafka");
    seal(&x);
    expect_one(&x, 1);
}
END_TEST

START_TEST(stream_of_frames_boundaries)
{
    buf a = apiversions(), p = produce(7, 0, "rdkafka", NULL, 0), q = produce(7, -1, "rdkafka", NULL, 0);
    unsigned char stream[8192];
    size_t n = 0;
    km_frames f;

    memcpy(stream + n, a.b, a.n), n += a.n;
    memcpy(stream + n, p.b, p.n), n += p.n;
    memcpy(stream + n, q.b, q.n), n += q.n;
    km_frames_init(&f, 1);
    /* the length prefix first, then exactly up to the boundary */
    ck_assert_uint_eq(km_frames_feed(&f, stream, 2), 0);
    ck_assert_uint_eq(km_frames_to_boundary(&f), 2);
    km_frames_feed(&f, stream + 2, 2);
    ck_assert_uint_eq(km_frames_to_boundary(&f), a.n - 4);
    ck_assert_uint_eq(km_frames_feed(&f, stream + 4, a.n - 4), 1);
    ck_assert(km_frames_at_boundary(&f));
    ck_assert_uint_eq(km_frames_feed(&f, stream + a.n, n - a.n), 2);
    ck_assert_uint_eq(f.frames, 3);
    ck_assert_uint_eq(f.expecting, 2);
    ck_assert_uint_eq(f.no_response, 1);
}
END_TEST

START_TEST(responses_counted_by_length_only)
{
    buf r = {.n = 4};
    km_frames f;

    i32(&r, 7);
    i16(&r, 0);
    seal(&r);
    km_frames_init(&f, 0);
    for (int i = 0; i < 3; i++)
        km_frames_feed(&f, r.b, r.n);
    ck_assert_uint_eq(f.frames, 3);
    ck_assert_uint_eq(f.expecting, 0);
    ck_assert(km_frames_at_boundary(&f));
    /* an empty frame is a frame */
    unsigned char zero[4] = {0};
    ck_assert_uint_eq(km_frames_feed(&f, zero, 4), 1);
}
END_TEST

START_TEST(huge_varint_is_safe)
{
    buf x = {.n = 4};
    i16(&x, 0);
    i16(&x, 9);
    i32(&x, 1);
    str16(&x, "c");
    for (int i = 0; i < 8; i++)
        u8(&x, 0xff);             /* a tag count that never ends */
    u8(&x, 0x01);
    i16(&x, 0);
    seal(&x);
    expect_one(&x, 1);
}
END_TEST

static buf request(int api_key, int ver)
{
    buf x = {.n = 4};
    i16(&x, api_key);
    i16(&x, ver);
    i32(&x, 3);
    str16(&x, "rdkafka");
    seal(&x);
    return x;
}

/* the kind of the last whole request decides the reply wait (direct.c) */
START_TEST(last_api_key_is_that_of_the_last_whole_request)
{
    for (int split = 0; split < 2; split++) {
        buf meta = request(3, 12), fetch = request(1, 11);
        km_frames f;

        km_frames_init(&f, 1);
        ck_assert_int_eq(f.last_api_key, -1);
        (split ? feed_bytes : feed_whole)(&f, &meta);
        ck_assert_int_eq(f.last_api_key, 3);
        km_frames_feed(&f, fetch.b, 6);   /* the next one begun, not whole */
        ck_assert_int_eq(f.last_api_key, 3);
        km_frames_feed(&f, fetch.b + 6, fetch.n - 6);
        ck_assert_int_eq(f.last_api_key, 1);
    }
}
END_TEST

/* SaslHandshake v0: raw SASL tokens follow, written without a request of
 * their own - the connection never goes quiet. v1 (SaslAuthenticate
 * requests follow) does not say so; both say SASL. */
START_TEST(sasl_handshake_v0_means_raw_tokens_follow)
{
    for (int split = 0; split < 2; split++) {
        buf v0 = request(17, 0), v1 = request(17, 1), auth = request(36, 2);
        km_frames a, b;

        km_frames_init(&a, 1);
        km_frames_init(&b, 1);
        (split ? feed_bytes : feed_whole)(&a, &v0);
        (split ? feed_bytes : feed_whole)(&b, &v1);
        (split ? feed_bytes : feed_whole)(&b, &auth);
        ck_assert(a.sasl && a.sasl_raw);
        ck_assert(b.sasl && !b.sasl_raw);
        ck_assert_uint_eq(a.expecting, 1);
        ck_assert_uint_eq(b.expecting, 2);
        ck_assert(km_frames_at_boundary(&a) && km_frames_at_boundary(&b));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("frames");
    TCase *tc = tcase_create("frames");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, non_produce_expects_response);
    tcase_add_test(tc, produce_v0_to_v2);
    tcase_add_test(tc, produce_v3_to_v8_transactional_id);
    tcase_add_test(tc, produce_flexible_with_tags);
    tcase_add_test(tc, truncated_produce_counts_as_expecting);
    tcase_add_test(tc, stream_of_frames_boundaries);
    tcase_add_test(tc, responses_counted_by_length_only);
    tcase_add_test(tc, huge_varint_is_safe);
    tcase_add_test(tc, last_api_key_is_that_of_the_last_whole_request);
    tcase_add_test(tc, sasl_handshake_v0_means_raw_tokens_follow);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
