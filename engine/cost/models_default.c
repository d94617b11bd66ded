/* The built-in model table, from the table the build generated from data/models.json. */
#include "models.h"
#include "models_builtin.h"

model_table *models_new_default(error_info *err)
{
    return models_new_from(models_builtin, models_builtin_count,
                           models_builtin_date[0] ? models_builtin_date : NULL, err);
}
