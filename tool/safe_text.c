/*
 * Text from a volume (file names) or a certificate (names, SANs) goes to a
 * terminal: its control characters could retitle it, clear it or move the
 * cursor over what inspect printed. They are shown escaped.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The length of a valid UTF-8 sequence at s (at most n bytes) whose code
 * point is no C1 control (U+0080..U+009F, which terminals obey too), or 0. */
static size_t printable_utf8(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
    unsigned cp;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    cp = len == 2 ? (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)
       : len == 3 ? (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu)
                  : (s[0] & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0; /* overlong or a surrogate */
    return cp >= 0x80 && cp <= 0x9F ? 0 : len;
}

const char *km_cli_safe(const char *in, char *out, size_t n)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t len = strlen(in), o = 0;

    for (size_t i = 0; i < len && o + 5 < n;) {
        size_t u = s[i] >= 0x80 ? printable_utf8(s + i, len - i) : 0;

        if (u > 0) {
            memcpy(out + o, s + i, u);
            o += u;
            i += u;
        } else if (s[i] < 0x20 || s[i] >= 0x7F) {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", s[i]);
            i++;
        } else {
            out[o++] = (char)s[i++];
        }
    }
    out[o] = '\0';
    return out;
}
