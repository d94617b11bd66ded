/* The model table as rows, for `nyx models` (nyx_query kind "models"). */
#ifndef NYX_QUERY_MODELS_H
#define NYX_QUERY_MODELS_H

#include "host_api.h"
#include "store/store.h"

/* name NULL or "": one row per model (model, lifecycle, the prices in force now, min_cache,
 * context, max_output, notes). name an id or alias: one row per field of that model (field,
 * value). Returns 0, or -1 with err (invalid_argument for an unknown name). */
int query_models(nyx_engine *e, const char *name, store_row_fn fn, void *ud, error_info *err);

/* What the current table says the stored calls cost, beside what was recorded (stored
 * costs are never changed): one row per model (served, else requested) then a "total" row:
 * model, calls, recorded_usd, table_usd, difference_usd (table - recorded), unpriced_calls
 * (calls the table cannot price now). Each call is priced at the row in force when it was
 * made, as standard speed, region and tier (usage modifiers are not stored).
 * Returns 0, or -1 with err. */
int query_reprice(nyx_engine *e, const store_filter *f, store_row_fn fn, void *ud, error_info *err);

#endif
