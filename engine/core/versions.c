/* The versions of the libraries this build runs on, for `nyx --version` and bug reports: the
 * ones linked at run time where the library can say, else the headers it was built with. */
#include "entry.h"

#include "sim/sim_mhd.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <lua.h>
#include <sqlite3.h>
#include <stdio.h>
#include <xxhash.h>
#ifdef NYX_HAVE_PG
#include <libpq-fe.h>
#endif

size_t versions_text(char *buf, size_t size)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    unsigned xxh = XXH_versionNumber();
    char pq[32] = "";
#ifdef NYX_HAVE_PG
    int v = PQlibVersion();
    snprintf(pq, sizeof pq, ", libpq %d.%d", v / 10000, v % 10000);
#endif
    const sim_mhd *mhd = sim_mhd_load(NULL); /* loaded for this if not before */
    int n = snprintf(buf, size, "libcurl %s (%s), SQLite %s, %s, cJSON %s, libmicrohttpd %s%s, xxHash %u.%u.%u",
                     curl->version, curl->ssl_version ? curl->ssl_version : "no TLS",
                     sqlite3_libversion(), LUA_RELEASE, cJSON_Version(), mhd ? mhd->get_version() : "not found", pq,
                     xxh / 10000, xxh / 100 % 100, xxh % 100);
    return n < 0 ? 0 : (size_t)n;
}
