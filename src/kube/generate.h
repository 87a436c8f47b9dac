/* `berth kube generate`: a Pod manifest from engine containers (records,
 * engine/record.h), like `podman kube generate`: image, command (the whole
 * argv the container runs, so the image's entrypoint does not matter), env
 * given at run, working directory, numeric user, published ports as
 * hostPorts, bind mounts as hostPath volumes, named volumes as
 * persistentVolumeClaims (berth volumes by that name), anonymous ones as
 * emptyDir, and the restart policy of the first container. */
#ifndef BERTH_KUBE_GENERATE_H
#define BERTH_KUBE_GENERATE_H

#include <stddef.h>

#include <jansson.h>

#include "engine/record.h"

/* The Pod NAME (NULL: the first container's name made a DNS-1123 label)
 * holding CTRS (N >= 1). A new reference. */
json_t *kube_generate_pod(container *const *ctrs, size_t n, const char *name);

/* TEXT as a DNS-1123 label: lower case, [a-z0-9-], at most 63, never
 * empty. BUF of 64. */
const char *kube_dns_label(const char *text, char *buf);

#endif
