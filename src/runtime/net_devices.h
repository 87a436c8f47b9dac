/* linux.netDevices (runtime-spec 1.3): host network interfaces moved into the
 * container's network namespace at create.
 *
 * Each device is moved and renamed in one RTM_NEWLINK (IFLA_NET_NS_FD +
 * IFLA_IFNAME, so a "%d" template gets a free name from the kernel), its
 * permanent addresses of global scope are added back inside (the kernel
 * drops them on the move) and it is set up. As the spec requires, delete
 * does not move a device back: when the namespace goes, the kernel returns
 * physical devices to the initial namespace and destroys virtual ones.
 *
 * Raw rtnetlink: berth-runtime is linked statically and libmnl has no static
 * library here; the messages are three. */
#ifndef BERTH_RUNTIME_NET_DEVICES_H
#define BERTH_RUNTIME_NET_DEVICES_H

#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

/* Before create changes anything: every device exists in the runtime's
 * network namespace. */
int net_devices_check_host(const spec *s, berth_error **err);

/* Moves every device into the network namespace of PID. */
int net_devices_move(const spec *s, pid_t pid, berth_error **err);

#endif
