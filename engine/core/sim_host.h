/* Behind nyx.h's nyx_sim_* entry points (engine/api/api.c): the simulator with the engine's
 * model table, for hosts and `nyx sim`. Each does what nyx.h says of its public twin. */
#ifndef NYX_CORE_SIM_HOST_H
#define NYX_CORE_SIM_HOST_H

#include "nyx.h"
#include "sim/sim.h"

struct model_table;
/* What the simulator asks of a model table (sim.h's sim_models) for table t: the built-in
 * simulator's and `nyx sim`'s alike. */
sim_models sim_host_models(struct model_table *t);

int sim_host_check_options(const char *const *options, char **errmsg);
nyx_sim *sim_host_start(int port, const char *const *options, char **errmsg);
int sim_host_port(const nyx_sim *sim);
void sim_host_stop(nyx_sim *sim);

#endif
