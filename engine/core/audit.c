#include "host_api.h"

#include "guard/scan.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

int engine_audit(nyx_engine *e, const char *kind, const char *session, const char *agent,
                 const char *detail, error_info *err)
{
    if (!engine_store(e)) {
        error_set(err, "store_error", 0, "the audit trail needs the database, which is unavailable");
        return -1;
    }
    /* A script may put anything in a detail: it is stored like a prompt, never as written
     * unless the storage mode is "full". */
    const char *mode = engine_cfg(e)->storage_mode;
    char *redacted = NULL;
    if (detail && strcmp(mode, "none") == 0)
        detail = NULL;
    else if (detail && strcmp(mode, "full") != 0) {
        if (!(redacted = guard_redact(detail, strlen(detail), NULL))) {
            error_set(err, "out_of_memory", 0, "out of memory recording an audit event");
            return -1;
        }
        detail = redacted;
    }
    int rc = store_audit(engine_store(e), kind, session, agent, detail, err);
    free(redacted);
    return rc;
}
