/* What each model accepts: requests are checked against the model table before anything is
 * sent, so a parameter the API would refuse with a 400 is refused here, naming the model
 * and the field, and a call to a retired model names its replacement. */
#ifndef NYX_COST_ACCEPT_H
#define NYX_COST_ACCEPT_H

#include <stddef.h>

#include "claude/types.h"
#include "cost/models.h"

/* The API's default temperature: a request may leave it out with the same effect. */
#define NYX_DEFAULT_TEMPERATURE 1.0

/* Checks a request for model md (NULL: unknown, nothing checked).
 * A temperature equal to the default is cleared (req->temperature = -1) on a model that
 * takes no temperature, so it is not sent; any other value there is refused.
 * Returns 0, or -1 with err set to invalid_argument: the model is retired (the message
 * names the replacement), or a field it refuses was given (the message names both). */
int accept_request(const model_info *md, claude_request *req, error_info *err);

/* 1 when model md (NULL: unknown, so not refused) accepts a request parameter, as the
 * simulator asks: "temperature", "top_p", "top_k" (at a non-default value), "speed:fast",
 * "thinking:adaptive", "thinking:enabled", "thinking:disabled", "tool_choice:forced_with_thinking"
 * (tool_choice "any" or a named tool while thinking). Unknown names: 1. */
int accept_param(const model_info *md, const char *param);

/* The notice for a call to a deprecated model ("... retires on DATE; use X"), written to
 * buf. Returns 1 when written, 0 when the model is not deprecated. */
int accept_deprecation_notice(const model_info *md, char *buf, size_t size);

/* Days after which the table is reported as possibly out of date. */
#define NYX_MODELS_STALE_DAYS 60

/* 1 when the table's date is more than `days` days before `now` (UTC seconds) or unknown. */
int accept_table_stale(const model_table *m, double now, int days);

#endif
