/* The built-in model table: data/models.json as models_merge_json() reads it, written out as
 * C by the build (cmake/models_gen.c) so that opening an engine copies it instead of parsing
 * 16 KB of JSON (1.6M instructions) every time. The JSON stays the one source. */
#ifndef NYX_COST_MODELS_BUILTIN_H
#define NYX_COST_MODELS_BUILTIN_H

#include "models.h"

extern const model_info models_builtin[];
extern const size_t models_builtin_count;
extern const char models_builtin_date[]; /* "YYYY-MM-DD", or "" */

#endif
