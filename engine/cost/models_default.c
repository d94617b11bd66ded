/* The built-in model table, from the table the build generated from data/models.json; in a
 * cross build, which cannot run the generator, from the JSON text itself, parsed at open. */
#include "models.h"
#include "models_builtin.h"

#ifdef NYX_MODELS_FROM_JSON
/* Generated from data/models.json by cmake/embed.cmake. */
extern const char models_json_data[];
extern const size_t models_json_data_len;

model_table *models_new_default(error_info *err)
{
    model_table *m = models_new_from(NULL, 0, NULL, err);
    if (m && models_merge_json(m, models_json_data, models_json_data_len, "built-in data/models.json", err) < 0) {
        models_free(m);
        return NULL;
    }
    return m;
}
#else
model_table *models_new_default(error_info *err)
{
    return models_new_from(models_builtin, models_builtin_count,
                           models_builtin_date[0] ? models_builtin_date : NULL, err);
}
#endif
