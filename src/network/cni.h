/* CNI driver: runs a network defined by a CNI network configuration list
 * (conflist) with the CNI plugins on the host (CNI spec 0.1.0 to 1.0.0).
 *
 * Phases: cni_network_load() parses and validates the whole list before any
 * plugin runs. cni_add() runs the plugins in order, each getting the list's
 * `name` and `cniVersion`, the previous plugin's result as `prevResult`, and
 * the capability args it declares in `runtimeConfig`; on a failure the
 * plugins already run are deleted again (in reverse) and the plugin's own
 * error is returned. The ADD result, the config and the capability args are
 * cached (atomically) so that cni_check() and cni_del() work with the same
 * prevResult after berth restarts; cni_del() removes the cache, and deleting
 * something never added (or already deleted) succeeds.
 *
 * Plugins are fork+exec'd directly (never a shell) with a clean environment
 * (the CNI_* variables and a fixed PATH), the config on a pipe as stdin,
 * stdout and stderr captured, every fd but those three closed, in their own
 * process group, and killed (the group) after a timeout.
 *
 * Cache layout: CACHE_DIR/results/NETWORK:CONTAINERID:IFNAME.json, mode
 * 0600, where ':' cannot occur in any of the three names, holding
 *   {"kind": "berth-cni-cache-v1", "networkName", "containerId", "ifName",
 *    "netns", "cniArgs", "config": <the conflist as run>,
 *    "capabilityArgs": {...}, "result": <the final ADD result>}
 */
#ifndef BERTH_NETWORK_CNI_H
#define BERTH_NETWORK_CNI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Where plugins are found when the caller names no CNI_PATH. */
#define CNI_DEFAULT_PLUGIN_PATH "/usr/lib/cni"
/* Seconds a plugin may run before it (and its process group) is killed. */
#define CNI_DEFAULT_TIMEOUT_SECONDS 60

/* A validated network configuration list (opaque). */
typedef struct cni_network cni_network;

/* Reads PATH, a conflist (`cniVersion`, `name`, `plugins[]` each with a
 * `type`) or a single-plugin .conf (wrapped into a list of one), and
 * validates it. Errors name the file and the JSON path:
 *   net.conflist: plugins[1]: missing "type" */
int cni_network_load(const char *path, cni_network **out, berth_error **err);

/* As cni_network_load() from TEXT; SOURCE names it in errors. */
int cni_network_parse(const char *text, const char *source, cni_network **out, berth_error **err);

void cni_network_free(cni_network *net);

/* The list's `name` and `cniVersion`, the number of plugins and the `type`
 * of plugin I (NULL when out of range). Valid as long as NET. */
const char *cni_network_name(const cni_network *net);
const char *cni_network_version(const cni_network *net);
size_t cni_network_plugin_count(const cni_network *net);
const char *cni_network_plugin_type(const cni_network *net, size_t i);

/* One published port, as the portmap plugin takes it (`portMappings`). */
typedef struct cni_port_mapping {
	uint16_t host_port;
	uint16_t container_port;
	const char *protocol; /* "tcp", "udp" or "sctp"; NULL means "tcp" */
	const char *host_ip;  /* NULL or "" means all addresses */
} cni_port_mapping;

/* Builds the `portMappings` capability arg (a JSON array) from N mappings,
 * for the caller to put into cni_runtime.capability_args. */
int cni_port_mappings_to_json(const cni_port_mapping *mappings, size_t n, json_t **out, berth_error **err);

/* What one attachment (network + container + interface) runs with. */
typedef struct cni_runtime {
	const char *container_id; /* CNI_CONTAINERID: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
	const char *netns_path;	  /* CNI_NETNS; may be NULL for cni_del() only */
	const char *ifname;	  /* CNI_IFNAME, e.g. "eth0" */
	const char *cni_args;	  /* CNI_ARGS ("K=V;K=V"), NULL for none */
	const char *plugin_path;  /* CNI_PATH (':'-separated), NULL: CNI_DEFAULT_PLUGIN_PATH */
	const char *cache_dir;	  /* required; created when missing */
	/* Object keyed by capability ("portMappings", "ips", "mac", ...): a
	 * plugin gets key K in its runtimeConfig only when its config has
	 * `capabilities: {K: true}`. NULL for none. Borrowed. */
	json_t *capability_args;
	int timeout_seconds; /* per plugin; <= 0: CNI_DEFAULT_TIMEOUT_SECONDS */
} cni_runtime;

/* Runs ADD for every plugin of NET in order and caches the result. On
 * success *RESULT (when not NULL) is the final result (a new reference).
 * When plugin I fails, DEL runs for plugins I..0 and the error reads
 *   network "NAME": plugin "TYPE" (plugins[I]) ADD: code C: MSG (DETAILS) */
int cni_add(const cni_network *net, const cni_runtime *rt, json_t **result, berth_error **err);

/* Runs CHECK for every plugin in order with the cached ADD result as
 * prevResult, using the cached config. Fails when nothing is cached, when
 * the list's cniVersion is below 0.4.0 (ENOTSUP), or when a plugin fails.
 * `disableCheck: true` in the list makes it succeed without running. */
int cni_check(const cni_network *net, const cni_runtime *rt, berth_error **err);

/* Runs DEL for every plugin in reverse order, with the cached config,
 * capability args and result when there is a cache (else NET and RT's, no
 * prevResult), then removes the cache. Idempotent: with nothing cached the
 * plugins still run (they must accept deleting what is not there). NET
 * names the cache entry; RT's netns_path may be NULL when it is gone. */
int cni_del(const cni_network *net, const cni_runtime *rt, berth_error **err);

/* The cached ADD result of NETWORK/CONTAINER_ID/IFNAME in CACHE_DIR (a new
 * reference), for inspect after a restart. -ENOENT when none. */
int cni_cached_result(const char *cache_dir, const char *network, const char *container_id, const char *ifname,
		      json_t **result, berth_error **err);

/* What the engine needs from a result for inspect and /etc/hosts. */
typedef struct cni_result_info {
	char *ipv4;	      /* "10.88.0.2", NULL when none */
	unsigned ipv4_prefix; /* 24 */
	char *ipv4_gateway;   /* NULL when none */
	char *ipv6;
	unsigned ipv6_prefix;
	char *ipv6_gateway;
	char *mac; /* of IFNAME in the container, NULL when not reported */
} cni_result_info;

/* Extracts the first IPv4 and IPv6 address (with prefix and gateway) of
 * the container interface IFNAME, and its MAC, from RESULT (any CNI result
 * version: 0.1.0/0.2.0 `ip4`/`ip6`, or 0.3.0+ `ips` and `interfaces`). An
 * address whose `interface` index names a host-side interface is skipped. */
int cni_result_get_info(const json_t *result, const char *ifname, cni_result_info *out, berth_error **err);

void cni_result_info_free(cni_result_info *info);

#endif
