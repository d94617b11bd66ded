/* Requests checked against what their model accepts (see accept.h). */
#include "accept.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* thinking, effort and tool_choice in the forms the model takes. */
static int accept_thinking(const model_info *md, const claude_request *req, error_info *err)
{
    static const struct {
        int asked;
        unsigned bit;
        const char *form;
    } forms[] = {{NYX_THINKING_ADAPTIVE, NYX_THINK_ADAPTIVE, "\"adaptive\""},
                 {NYX_THINKING_BUDGET, NYX_THINK_ENABLED, "a budget of tokens"},
                 {NYX_THINKING_DISABLED, NYX_THINK_DISABLED, "false (it always thinks)"}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (req->thinking == forms[i].asked && !(md->thinking & forms[i].bit)) {
            error_set(err, "invalid_argument", 0,
                          "thinking: model \"%s\" does not accept %s; it takes%s%s%s", md->id,
                          forms[i].form, md->thinking & NYX_THINK_ADAPTIVE ? " [\"adaptive\"]" : "",
                          md->thinking & NYX_THINK_ENABLED ? " [a budget of tokens]" : "",
                          md->thinking & NYX_THINK_DISABLED ? " [false]" : "");
            return -1;
        }
    }
    if (req->effort && !md->default_effort) {
        error_set(err, "invalid_argument", 0, "effort: model \"%s\" has no effort setting",
                      md->id);
        return -1;
    }
    /* A model that cannot turn thinking off thinks without being asked to. */
    int thinks = req->thinking == NYX_THINKING_ADAPTIVE || req->thinking == NYX_THINKING_BUDGET ||
                 (req->thinking != NYX_THINKING_DISABLED && !(md->thinking & NYX_THINK_DISABLED));
    cJSON *tc = thinks && req->tool_choice_json ? cJSON_Parse(req->tool_choice_json) : NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(tc, "type");
    int forced = cJSON_IsString(type) &&
                 (!strcmp(type->valuestring, "any") || !strcmp(type->valuestring, "tool"));
    cJSON_Delete(tc);
    if (forced && !md->forced_tool_choice_with_thinking) {
        error_set(err, "invalid_argument", 0,
                      "tool_choice: model \"%s\" cannot be forced to use a tool while thinking; "
                      "use tool_choice \"auto\" or turn thinking off", md->id);
        return -1;
    }
    return 0;
}

int accept_request(const model_info *md, claude_request *req, error_info *err)
{
    if (!md || !req)
        return 0;
    if (md->lifecycle == NYX_LIFE_RETIRED) {
        error_set(err, "invalid_argument", 0, "model: \"%s\" was retired%s%s; use \"%s\" instead",
                      md->id, md->retires ? " on " : "", md->retires ? md->retires : "",
                      md->replacement ? md->replacement : "a current model (see nyx models)");
        return -1;
    }
    if (req->temperature >= 0 && !(md->sampling & NYX_SAMPLE_TEMPERATURE)) {
        if (req->temperature == NYX_DEFAULT_TEMPERATURE) {
            req->temperature = -1; /* the same as not sending it, which this model requires */
        } else {
            error_set(err, "invalid_argument", 0,
                          "temperature: model \"%s\" accepts no temperature other than its default "
                          "(%g); leave temperature out or choose a model that takes one",
                          md->id, NYX_DEFAULT_TEMPERATURE);
            return -1;
        }
    }
    return accept_thinking(md, req, err);
}

int accept_param(const model_info *md, const char *param)
{
    if (!md || !param)
        return 1;
    static const struct {
        const char *name;
        int thinking; /* 1: a thinking bit, 0: a sampling bit */
        unsigned bit;
    } params[] = {{"temperature", 0, NYX_SAMPLE_TEMPERATURE}, {"top_p", 0, NYX_SAMPLE_TOP_P},
                  {"top_k", 0, NYX_SAMPLE_TOP_K}, {"thinking:adaptive", 1, NYX_THINK_ADAPTIVE},
                  {"thinking:enabled", 1, NYX_THINK_ENABLED}, {"thinking:disabled", 1, NYX_THINK_DISABLED}};
    if (strcmp(param, "speed:fast") == 0)
        return md->has_fast;
    if (strcmp(param, "tool_choice:forced_with_thinking") == 0)
        return md->forced_tool_choice_with_thinking;
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (strcmp(param, params[i].name) == 0)
            return ((params[i].thinking ? md->thinking : md->sampling) & params[i].bit) != 0;
    return 1;
}

int accept_deprecation_notice(const model_info *md, char *buf, size_t size)
{
    if (!md || md->lifecycle != NYX_LIFE_DEPRECATED || !buf || !size)
        return 0;
    snprintf(buf, size, "nyx: model \"%s\" is deprecated%s%s%s; move to \"%s\"", md->id,
             md->retires ? " and retires on " : "", md->retires ? md->retires : "",
             models_unconfirmed(md, "retires") ? " (date unconfirmed)" : "",
             md->replacement ? md->replacement : "a current model (see nyx models)");
    return 1;
}

int accept_table_stale(const model_table *m, double now, int days)
{
    double t = models_date_time(models_date(m));
    return t < 0 || now - t > (double)days * 86400.0;
}
