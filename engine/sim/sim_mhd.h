/* libmicrohttpd, loaded the first time the simulator serves HTTP instead of linked: a program
 * that links it pays for it at start whether it serves or not (its constructor initialises
 * GnuTLS: about 1.2 MB of resident memory), and most runs of nyx never start a server. The
 * functions the simulator uses, found once per process. */
#ifndef NYX_SIM_MHD_H
#define NYX_SIM_MHD_H

#include <microhttpd.h>

#define SIM_MHD_SONAME "libmicrohttpd.so.12"

typedef struct sim_mhd {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_is_feature_supported) *is_feature_supported;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_create_response_from_callback) *create_response_from_callback;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_suspend_connection) *suspend_connection;
    __typeof__(MHD_resume_connection) *resume_connection;
    __typeof__(MHD_get_version) *get_version;
} sim_mhd;

/* The functions, the library loaded on the first call; NULL when it cannot be loaded (then
 * *why, when why is not NULL, says why). Never NULL once a server has started. */
const sim_mhd *sim_mhd_load(const char **why);

#endif
