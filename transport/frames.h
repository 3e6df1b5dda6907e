/*
 * Kafka frame accounting on a byte stream: every Kafka request and response
 * is a 4-byte big-endian length and that many bytes. The transport needs to
 * know where a request ends (it closes a connection only at a boundary) and
 * how many forwarded requests still wait for a response. Produce with
 * acks=0 never gets one, so for Produce the parser reads as far as acks.
 * Pure: no I/O, no allocation; bytes may arrive split anywhere.
 */
#ifndef KMTLS_TRANSPORT_FRAMES_H
#define KMTLS_TRANSPORT_FRAMES_H

#include <stddef.h>
#include <stdint.h>

typedef struct km_frames {
    int requests;                 /* 1: client->broker (parse headers) */
    unsigned hlen;                /* bytes of the length prefix seen, 0..4 */
    uint32_t left;                /* body bytes still to come in this frame */
    unsigned char lenbuf[4];
    /* request header parse, one field at a time */
    int pstate;
    unsigned pbytes;              /* bytes of the current fixed-size field */
    uint32_t pval;
    unsigned vshift;              /* unsigned varint in progress */
    uint32_t skip;                /* bytes of a string/tag to pass over */
    uint32_t ntags;
    int api_key, api_version;
    int expects;                  /* -1 undecided, 0 no response, 1 a response */
    /* totals */
    uint64_t frames;              /* complete frames */
    uint64_t expecting;           /* complete requests that expect a response */
    uint64_t no_response;         /* complete requests that do not (acks=0) */
    int sasl;                     /* a SaslHandshake or SaslAuthenticate was seen */
    int sasl_raw;                 /* a SaslHandshake v0: raw SASL tokens follow, not as requests */
    int last_api_key;             /* of the last complete request; -1 none yet */
} km_frames;

void km_frames_init(km_frames *f, int requests);
/* Accounts for n bytes of the stream; returns the frames completed in them. */
uint64_t km_frames_feed(km_frames *f, const unsigned char *p, size_t n);
/* 1 between frames (nothing of a next frame seen yet). */
int km_frames_at_boundary(const km_frames *f);
/* How many bytes may be read without passing the end of the current frame:
 * 0 at a boundary; while the length prefix is incomplete, the rest of it. */
size_t km_frames_to_boundary(const km_frames *f);

#endif
