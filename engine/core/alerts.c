/* Alert thresholds on finished calls: latency per call, error rate and cache hit rate over a
 * window of the last calls, edge-triggered so a bad spell raises one alert, not one per call. */
#define _POSIX_C_SOURCE 200809L
#include "alerts.h"

#include "host_api.h"
#include "settings.h"

#include <stdio.h>

static void raise_alert(nyx_engine *e, const call_outcome *r, const char *agent, const char *kind,
                        double value, double threshold, const char *message)
{
    const char *model = r->resp.model ? r->resp.model : r->model_requested;
    engine_field f[7] = {{"kind", kind, 0},
                         {"value", NULL, value},
                         {"threshold", NULL, threshold},
                         {"message", message, 0},
                         {"interaction_id", r->interaction_id, 0},
                         {"model", model, 0},
                         {"agent", agent, 0}};
    engine_emit(e, "alert", f, agent ? 7 : 6);
    engine_log(e, NYX_LOG_WARN, "nyx: alert: %s", message);
}

/* Share of the window's outcomes with bit `what` among those with bit `among`; -1 when
 * fewer than ALERT_MIN_CALLS qualify. */
static double share(const alert_window *w, int what, int among)
{
    int n = 0, k = 0;
    for (int i = 0; i < w->n; i++) {
        if (!(w->outcome[i] & among))
            continue;
        n++;
        k += (w->outcome[i] & what) != 0;
    }
    return n >= ALERT_MIN_CALLS ? (double)k / n : -1;
}

void alerts_call_finished(nyx_engine *e, const call_outcome *r, const char *agent)
{
    const alert_thresholds *t = settings_alerts(e);
    alert_window *w = settings_alert_window(e);
    if (!t || !w || r->status == NYX_STATUS_CANCELLED)
        return;
    char msg[300];
    if (t->latency_ms > 0 && r->latency_ms > t->latency_ms) {
        snprintf(msg, sizeof msg, "call %s took %.0f ms, above alert.latency_ms %.0f", r->interaction_id,
                 r->latency_ms, t->latency_ms);
        raise_alert(e, r, agent, "latency", r->latency_ms, t->latency_ms, msg);
    }
    if (t->error_rate < 0 && t->cache_hit_floor < 0)
        return;
    w->outcome[w->next] = (unsigned char)(r->status == NYX_STATUS_OK ? ALERT_OK | (r->cache_hit ? ALERT_HIT : 0)
                                                                     : ALERT_ERROR);
    w->next = (w->next + 1) % ALERT_WINDOW;
    if (w->n < ALERT_WINDOW)
        w->n++;
    if (t->error_rate >= 0) {
        double rate = share(w, ALERT_ERROR, ALERT_ERROR | ALERT_OK);
        if (rate >= 0 && rate > t->error_rate && !w->error_alerted) {
            w->error_alerted = 1;
            snprintf(msg, sizeof msg, "error rate %.0f%% over the last %d calls, above alert.error_rate %.0f%%",
                     rate * 100, w->n, t->error_rate * 100);
            raise_alert(e, r, agent, "error_rate", rate, t->error_rate, msg);
        } else if (rate >= 0 && rate <= t->error_rate) {
            w->error_alerted = 0;
        }
    }
    if (t->cache_hit_floor >= 0) {
        double rate = share(w, ALERT_HIT, ALERT_OK);
        if (rate >= 0 && rate < t->cache_hit_floor && !w->hit_alerted) {
            w->hit_alerted = 1;
            snprintf(msg, sizeof msg,
                     "cache hit rate %.0f%% over the last successful calls, below alert.cache_hit_rate_floor %.0f%%",
                     rate * 100, t->cache_hit_floor * 100);
            raise_alert(e, r, agent, "cache_hit_rate", rate, t->cache_hit_floor, msg);
        } else if (rate >= t->cache_hit_floor) {
            w->hit_alerted = 0;
        }
    }
}
