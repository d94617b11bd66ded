/* libmicrohttpd loaded on first use (sim_mhd.h). The table is filled once per process, as the
 * library itself is loaded once per process; it never changes after. */
#include "sim_mhd.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static sim_mhd table;
static const sim_mhd *loaded;
static char failure[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* dlsym's object pointer as a function pointer (POSIX guarantees the conversion works). */
#define FIND(h, field, name) (*(void **)(&table.field) = dlsym(h, name)) != NULL

static void load(void)
{
    void *h = dlopen(SIM_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(failure, sizeof failure, "%s", e ? e : "cannot load " SIM_MHD_SONAME);
        return;
    }
    if (FIND(h, start_daemon, "MHD_start_daemon") && FIND(h, stop_daemon, "MHD_stop_daemon") &&
        FIND(h, get_daemon_info, "MHD_get_daemon_info") &&
        FIND(h, is_feature_supported, "MHD_is_feature_supported") &&
        FIND(h, lookup_connection_value, "MHD_lookup_connection_value") &&
        FIND(h, get_connection_info, "MHD_get_connection_info") &&
        FIND(h, create_response_from_buffer, "MHD_create_response_from_buffer") &&
        FIND(h, create_response_from_callback, "MHD_create_response_from_callback") &&
        FIND(h, add_response_header, "MHD_add_response_header") &&
        FIND(h, queue_response, "MHD_queue_response") && FIND(h, destroy_response, "MHD_destroy_response") &&
        FIND(h, suspend_connection, "MHD_suspend_connection") &&
        FIND(h, resume_connection, "MHD_resume_connection") &&
        FIND(h, get_version, "MHD_get_version")) {
        loaded = &table;
        return;
    }
    snprintf(failure, sizeof failure, "a function the simulator uses is missing from %s", SIM_MHD_SONAME);
    dlclose(h);
}

const sim_mhd *sim_mhd_load(const char **why)
{
    pthread_once(&once, load);
    if (!loaded && why)
        *why = failure;
    return loaded;
}
