/* Shared between network.c (definitions) and network_attach.c (containers). */
#ifndef BERTH_ENGINE_NETWORK_INTERNAL_H
#define BERTH_ENGINE_NETWORK_INTERNAL_H

#include "engine/network.h"
#include "network/cni.h"

/* STORE/networks, heap. */
char *network_dir(const engine_paths *p);
/* Forgets that NAME's bridge and rules were set up since boot (network rm). */
void network_ready_forget(const engine_paths *p, const char *name);

#endif
