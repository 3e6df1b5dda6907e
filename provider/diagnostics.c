/* kmtls_volume_describe: discovery alone, for `kafka-mtls inspect`. */
#include <stdio.h>
#include <string.h>

#include "kmtls/provider.h"
#include "uri.h"
#include "volume.h"

int kmtls_volume_describe(const char *uri_text, kmtls_volume_info *out)
{
    km_uri uri;
    km_volume v;
    km_status st = { 0 };

    memset(out, 0, sizeof(*out));
    if (!km_uri_parse(uri_text, &uri, &st) ||
        !km_volume_discover(&uri, uri.password_file != NULL, &v, &st)) {
        out->reason = st.reason;
        snprintf(out->msg, sizeof(out->msg), "%s", st.msg);
        km_uri_clear(&uri);
        return 0;
    }
    snprintf(out->layout, sizeof(out->layout), "%s", v.layout);
    snprintf(out->alias, sizeof(out->alias), "%s", v.alias != NULL ? v.alias : "");
    for (size_t i = 0; i < v.nfiles && out->creds[0] == '\0'; i++)
        if (v.files[i].creds != NULL)
            snprintf(out->creds, sizeof(out->creds), "%s", v.files[i].creds);
    km_volume_clear(&v);
    km_uri_clear(&uri);
    return 1;
}
