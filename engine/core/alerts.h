/* Alert thresholds on finished calls (alert.latency_ms, alert.error_rate,
 * alert.cache_hit_rate_floor in system_config or the environment): a call that crosses one
 * raises an "alert" event (nyx.on("alert", fn) in Lua) and a warning in the log. */
#ifndef NYX_ALERTS_H
#define NYX_ALERTS_H

#include "call.h"

typedef struct nyx_engine nyx_engine;

/*
 * To be called once per finished call, after its accounting (call_account), with its result.
 *   - latency: every call slower than alert.latency_ms raises an alert (kind "latency");
 *   - error rate: over the last ALERT_WINDOW calls (cancelled ones not counted), once at
 *     least ALERT_MIN_CALLS have finished, the share of errors going above alert.error_rate
 *     raises one alert (kind "error_rate"); it is raised again only after the share fell
 *     back to the threshold or below;
 *   - cache hit rate: the same over the successful calls of the window, for the share that
 *     read the prompt cache falling below alert.cache_hit_rate_floor (kind "cache_hit_rate").
 * The event's fields: kind, value, threshold, message, interaction_id, model, and agent when
 * the call had one. Costs a few comparisons when no threshold is set.
 *   agent: the call's agent, or NULL
 */
void alerts_call_finished(nyx_engine *e, const call_outcome *r, const char *agent);

#endif
