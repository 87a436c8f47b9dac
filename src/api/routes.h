/* The routes of the API: method, path pattern ("{}" matches one path
 * segment, or an image name with slashes before a fixed last segment),
 * handler. An X-macro, so the service (server.c) and the fuzz target
 * (tests/fuzz/fuzz_api.c) walk the same list. */
#ifndef BERTH_API_ROUTES_H
#define BERTH_API_ROUTES_H

#define API_ROUTES(X)                                                                                                  \
	X("GET", "/_ping", api_ping)                                                                                   \
	X("HEAD", "/_ping", api_ping)                                                                                  \
	X("GET", "/version", api_version)                                                                              \
	X("GET", "/info", api_info)                                                                                    \
	X("GET", "/events", api_events)                                                                                \
	X("GET", "/containers/json", api_containers_list)                                                              \
	X("POST", "/containers/create", api_container_create)                                                          \
	X("GET", "/containers/{}/json", api_container_inspect)                                                         \
	X("POST", "/containers/{}/start", api_container_start)                                                         \
	X("POST", "/containers/{}/stop", api_container_stop)                                                           \
	X("POST", "/containers/{}/restart", api_container_restart)                                                     \
	X("POST", "/containers/{}/kill", api_container_kill)                                                           \
	X("POST", "/containers/{}/pause", api_container_pause)                                                         \
	X("POST", "/containers/{}/unpause", api_container_unpause)                                                     \
	X("POST", "/containers/{}/wait", api_container_wait)                                                           \
	X("POST", "/containers/{}/resize", api_container_resize)                                                       \
	X("GET", "/containers/{}/logs", api_container_logs)                                                            \
	X("POST", "/containers/{}/attach", api_container_attach)                                                       \
	X("GET", "/containers/{}/archive", api_container_archive)                                                      \
	X("HEAD", "/containers/{}/archive", api_container_archive)                                                     \
	X("DELETE", "/containers/{}", api_container_remove)                                                            \
	X("POST", "/containers/{}/exec", api_exec_create)                                                              \
	X("POST", "/exec/{}/start", api_exec_start)                                                                    \
	X("GET", "/exec/{}/json", api_exec_inspect)                                                                    \
	X("POST", "/exec/{}/resize", api_exec_resize)                                                                  \
	X("GET", "/networks", api_networks_list)                                                                       \
	X("POST", "/networks/create", api_network_create)                                                              \
	X("GET", "/networks/{}", api_network_inspect)                                                                  \
	X("DELETE", "/networks/{}", api_network_remove)                                                                \
	X("POST", "/networks/{}/connect", api_network_connect)                                                         \
	X("POST", "/networks/{}/disconnect", api_network_disconnect)                                                   \
	X("GET", "/volumes", api_volumes_list)                                                                         \
	X("POST", "/volumes/create", api_volume_create)                                                                \
	X("GET", "/volumes/{}", api_volume_inspect)                                                                    \
	X("DELETE", "/volumes/{}", api_volume_remove)                                                                  \
	X("GET", "/images/json", api_images_list)                                                                      \
	X("POST", "/images/create", api_image_create)                                                                  \
	X("GET", "/images/{}/json", api_image_inspect)                                                                 \
	X("POST", "/images/{}/tag", api_image_tag)                                                                     \
	X("DELETE", "/images/{}", api_image_remove)                                                                    \
	X("POST", "/build", api_build)                                                                                 \
	X("GET", "/containers/{}/top", api_container_top)                                                              \
	X("GET", "/containers/{}/stats", api_container_stats)                                                          \
	X("POST", "/containers/{}/rename", api_container_rename)                                                       \
	X("POST", "/containers/{}/update", api_container_update)                                                       \
	X("POST", "/containers/prune", api_containers_prune)                                                           \
	X("POST", "/images/{}/push", api_image_push)                                                                   \
	X("POST", "/auth", api_auth)                                                                                   \
	X("GET", "/images/get", api_images_get)                                                                        \
	X("GET", "/images/{}/get", api_images_get)                                                                     \
	X("POST", "/images/load", api_images_load)                                                                     \
	X("POST", "/images/prune", api_images_prune)                                                                   \
	X("POST", "/networks/prune", api_networks_prune)                                                               \
	X("POST", "/volumes/prune", api_volumes_prune)                                                                 \
	X("GET", "/system/df", api_system_df)                                                                          \
	X("GET", "/containers/{}/changes", api_container_changes)                                                      \
	X("GET", "/containers/{}/export", api_container_export)                                                        \
	X("POST", "/commit", api_commit)                                                                               \
	X("GET", "/images/{}/history", api_image_history)                                                              \
	X("POST", "/build/prune", api_build_prune)

#endif
