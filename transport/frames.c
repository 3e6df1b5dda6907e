/*
 * Kafka frame accounting (see frames.h). The request parser reads only what
 * decides "does a response come": the api key, and for Produce the version,
 * the header fields before the body and the body's fields up to acks.
 * Layouts (Kafka protocol, request header v1 / v2):
 *   length:int32 | api_key:int16 api_version:int16 correlation_id:int32
 *   client_id:nullable string(int16 length) | [v2: tagged fields]
 *   Produce v0-2: acks:int16 ...
 *   Produce v3-8: transactional_id:nullable string(int16), acks:int16 ...
 *   Produce v9+ (flexible, header v2): transactional_id:compact nullable
 *                 string(uvarint length+1), acks:int16 ...
 * Anything this parser cannot follow counts as expecting a response: the
 * safe side, since a connection then waits (at worst until the drain
 * timeout) rather than being closed under a response.
 */
#include "frames.h"

#include <string.h>

enum {
    P_APIKEY, P_APIVER, P_CORR, P_CLIENTID_LEN, P_CLIENTID,
    P_TAG_COUNT, P_TAG_ID, P_TAG_SIZE, P_TAG_DATA,
    P_TXN_LEN, P_TXN_CLEN, P_TXN, P_ACKS, P_DONE
};

#define API_PRODUCE 0
/* SASL authenticates the connection, not the client: such a connection
 * cannot be carried over to a new TLS connection (see transport.h). */
#define API_SASL_HANDSHAKE 17
#define API_SASL_AUTHENTICATE 36
#define PRODUCE_FIRST_FLEXIBLE 9
#define PRODUCE_FIRST_TXN 3

static void frame_reset(km_frames *f)
{
    f->hlen = 0;
    f->left = 0;
    f->pstate = P_APIKEY;
    f->pbytes = 0;
    f->pval = 0;
    f->vshift = 0;
    f->skip = 0;
    f->ntags = 0;
    f->api_key = f->api_version = -1;
    f->expects = -1;
}

void km_frames_init(km_frames *f, int requests)
{
    memset(f, 0, sizeof(*f));
    f->requests = requests;
    f->last_api_key = -1;
    frame_reset(f);
}

static void decide(km_frames *f, int expects)
{
    f->expects = expects;
    f->pstate = P_DONE;
}

/* A fixed-size big-endian field: 1 once all `size` bytes are in f->pval. */
static int fixed(km_frames *f, unsigned char b, unsigned size)
{
    f->pval = (f->pval << 8) | b;
    if (++f->pbytes < size)
        return 0;
    f->pbytes = 0;
    return 1;
}

/* An unsigned varint: 1 once complete (value in pval), -1 if longer than
 * any 32-bit value. */
static int varint(km_frames *f, unsigned char b)
{
    if (f->vshift > 28)
        return -1;
    f->pval |= (uint32_t)(b & 0x7f) << f->vshift;
    f->vshift += 7;
    if (b & 0x80)
        return 0;
    f->vshift = 0;
    return 1;
}

/* After the client id (and the header's tags): the body's fields. */
static void before_txn(km_frames *f)
{
    if (f->api_version >= PRODUCE_FIRST_FLEXIBLE)
        f->pstate = P_TXN_CLEN;
    else if (f->api_version >= PRODUCE_FIRST_TXN)
        f->pstate = P_TXN_LEN;
    else
        f->pstate = P_ACKS;
}

static void after_tag_or_count(km_frames *f)
{
    if (f->ntags == 0)
        before_txn(f);
    else
        f->pstate = P_TAG_ID;
}

/* One byte of a header field (never called in a skip state or P_DONE). */
static void parse_byte(km_frames *f, unsigned char b)
{
    int v;

    switch (f->pstate) {
    case P_APIKEY:
        if (!fixed(f, b, 2))
            return;
        f->api_key = (int16_t)f->pval;
        f->pval = 0;
        if (f->api_key == API_SASL_HANDSHAKE || f->api_key == API_SASL_AUTHENTICATE)
            f->sasl = 1;
        if (f->api_key != API_PRODUCE && f->api_key != API_SASL_HANDSHAKE)
            decide(f, 1);
        else
            f->pstate = P_APIVER;
        return;
    case P_APIVER:
        if (!fixed(f, b, 2))
            return;
        f->api_version = (int16_t)f->pval;
        f->pval = 0;
        if (f->api_key == API_SASL_HANDSHAKE) {
            f->sasl_raw |= f->api_version == 0;
            decide(f, 1);
        } else if (f->api_version < 0)
            decide(f, 1);
        else
            f->pstate = P_CORR;
        return;
    case P_CORR:
        if (fixed(f, b, 4)) {
            f->pval = 0;
            f->pstate = P_CLIENTID_LEN;
        }
        return;
    case P_CLIENTID_LEN:
        if (!fixed(f, b, 2))
            return;
        v = (int16_t)f->pval;
        f->pval = 0;
        f->skip = v > 0 ? (uint32_t)v : 0;
        f->pstate = P_CLIENTID;
        if (f->skip == 0)
            goto client_id_done;
        return;
    case P_TAG_COUNT:
    case P_TAG_ID:
    case P_TAG_SIZE:
    case P_TXN_CLEN:
        if ((v = varint(f, b)) < 0) {
            decide(f, 1);
            return;
        }
        if (v == 0)
            return;
        if (f->pstate == P_TAG_COUNT) {
            f->ntags = f->pval;
            f->pval = 0;
            after_tag_or_count(f);
        } else if (f->pstate == P_TAG_ID) {
            f->pval = 0;
            f->pstate = P_TAG_SIZE;
        } else if (f->pstate == P_TAG_SIZE) {
            f->skip = f->pval;
            f->pval = 0;
            f->ntags--;
            f->pstate = P_TAG_DATA;
            if (f->skip == 0)
                after_tag_or_count(f);
        } else {
            /* compact nullable string: 0 = null, else length + 1 */
            f->skip = f->pval > 0 ? f->pval - 1 : 0;
            f->pval = 0;
            f->pstate = f->skip ? P_TXN : P_ACKS;
        }
        return;
    case P_TXN_LEN:
        if (!fixed(f, b, 2))
            return;
        v = (int16_t)f->pval;
        f->pval = 0;
        f->skip = v > 0 ? (uint32_t)v : 0;
        f->pstate = f->skip ? P_TXN : P_ACKS;
        return;
    case P_ACKS:
        if (!fixed(f, b, 2))
            return;
        decide(f, (int16_t)f->pval != 0);
        return;
    default:
        decide(f, 1);
        return;
    }
client_id_done:
    if (f->api_version >= PRODUCE_FIRST_FLEXIBLE)
        f->pstate = P_TAG_COUNT;
    else
        before_txn(f);
}

/* Passes over string or tag bytes; returns how many of n were taken. */
static size_t skip_bytes(km_frames *f, size_t n)
{
    size_t take = n < f->skip ? n : f->skip;

    f->skip -= (uint32_t)take;
    if (f->skip == 0) {
        if (f->pstate == P_CLIENTID) {
            if (f->api_version >= PRODUCE_FIRST_FLEXIBLE)
                f->pstate = P_TAG_COUNT;
            else
                before_txn(f);
        } else if (f->pstate == P_TAG_DATA) {
            after_tag_or_count(f);
        } else {
            f->pstate = P_ACKS;   /* P_TXN */
        }
    }
    return take;
}

static void frame_done(km_frames *f)
{
    f->frames++;
    if (f->requests) {
        f->last_api_key = f->api_key;
        if (f->expects == 0)
            f->no_response++;
        else
            f->expecting++;   /* decided yes, or not decidable: wait for one */
    }
    frame_reset(f);
}

uint64_t km_frames_feed(km_frames *f, const unsigned char *p, size_t n)
{
    uint64_t before = f->frames;

    while (n > 0) {
        if (f->hlen < 4) {
            f->lenbuf[f->hlen++] = *p++;
            n--;
            if (f->hlen == 4) {
                f->left = (uint32_t)f->lenbuf[0] << 24 | (uint32_t)f->lenbuf[1] << 16 |
                          (uint32_t)f->lenbuf[2] << 8 | f->lenbuf[3];
                if (f->left == 0)
                    frame_done(f);
            }
            continue;
        }
        size_t take;
        if (!f->requests || f->pstate == P_DONE) {
            take = n < f->left ? n : f->left;
        } else if (f->pstate == P_CLIENTID || f->pstate == P_TAG_DATA || f->pstate == P_TXN) {
            take = skip_bytes(f, n < f->left ? n : f->left);
        } else {
            parse_byte(f, *p);
            take = 1;
        }
        p += take;
        n -= take;
        f->left -= (uint32_t)take;
        if (f->left == 0)
            frame_done(f);
    }
    return f->frames - before;
}

int km_frames_at_boundary(const km_frames *f)
{
    return f->hlen == 0;
}

size_t km_frames_to_boundary(const km_frames *f)
{
    if (f->hlen == 0)
        return 0;
    if (f->hlen < 4)
        return 4 - f->hlen;
    return f->left;
}
