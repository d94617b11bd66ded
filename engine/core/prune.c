/* nyx_prune: the database kept bounded (store_prune), for `nyx prune` and hosts. */
#include "engine.h"

#include "query.h"
#include "store/store.h"

#include <stdio.h>

int engine_prune(nyx_engine *e, const char *before, int dry_run, nyx_row_fn fn, void *ud)
{
    double t = 0;
    if (query_parse_since(before, &t) != 0) {
        engine_set_error(e, "before must be " QUERY_TIME_FORMS ", got \"%.40s\"", before);
        return NYX_EINVAL;
    }
    if (engine_open_store(e) != 0)
        return NYX_EIO;
    error_info err;
    error_clear(&err);
    store_pruned p;
    int rc = store_prune(e->storage.db, t, 0, dry_run, &p, &err);
    if (rc != 0) {
        engine_set_error(e, "%s", err.message);
        return error_code(&err);
    }
    if (!fn)
        return NYX_OK;
    char num[10][32];
    const long long counts[] = {p.interactions, p.interaction_bytes, p.batches, p.parts,
                                p.part_bytes,   p.cache_rows,        p.cache_bytes};
    for (int i = 0; i < 7; i++)
        snprintf(num[i], sizeof num[i], "%lld", counts[i]);
    snprintf(num[7], sizeof num[7], "%.3f", p.longest_write_ms);
    snprintf(num[8], sizeof num[8], "%d", dry_run != 0);
    snprintf(num[9], sizeof num[9], "%.3f", t); /* what before meant: an age is read against now */
    static const char *const names[] = {"interactions", "interaction_bytes", "batches",
                                        "parts",        "part_bytes",        "cache_rows",
                                        "cache_bytes",  "longest_write_ms",  "dry_run",
                                        "before_s"};
    const char *values[10];
    for (int i = 0; i < 10; i++)
        values[i] = num[i];
    engine_host_fn_enter(e);
    fn(ud, 10, names, values);
    engine_host_fn_leave(e);
    return NYX_OK;
}
