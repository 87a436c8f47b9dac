/* Cross-field checks of a parsed config.json, run before any side effect. */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "spec/spec_internal.h"

static bool ns_private(const spec *s, enum spec_ns_type t)
{
	return s->namespaces[t].requested;
}

static int validate_sysctl(const spec *s, berth_error **err)
{
	static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb",	  "kernel.msgmni",
						"kernel.sem",	 "kernel.shmall",	  "kernel.shmmax",
						"kernel.shmmni", "kernel.shm_rmid_forced" };

	for (size_t i = 0; i < s->n_sysctl; i++) {
		const char *key = s->sysctl[i].key;
		bool ipc = strncmp(key, "fs.mqueue.", 10) == 0;

		if (strstr(key, "..") != NULL || strchr(key, '/') != NULL)
			return berth_error_set(err, 0, "linux.sysctl: invalid name \"%s\"", key);
		for (size_t k = 0; k < sizeof(ipc_keys) / sizeof(ipc_keys[0]); k++)
			ipc |= strcmp(key, ipc_keys[k]) == 0;
		if (ipc) {
			if (!ns_private(s, NS_IPC))
				return berth_error_set(err, 0, "linux.sysctl: \"%s\" needs a private ipc namespace",
						       key);
			continue;
		}
		if (strncmp(key, "net.", 4) == 0) {
			if (!ns_private(s, NS_NETWORK))
				return berth_error_set(err, 0, "linux.sysctl: \"%s\" needs a private network namespace",
						       key);
			continue;
		}
		if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0) {
			bool host = key[7] == 'h';
			const char *field = host ? s->hostname : s->domainname;
			if (!ns_private(s, NS_UTS))
				return berth_error_set(err, 0, "linux.sysctl: \"%s\" needs a private uts namespace",
						       key);
			/* the sysctl is written after sethostname(): it would
			 * silently win over the field (runc and crun refuse) */
			if (field != NULL && field[0] != '\0' && strcmp(field, s->sysctl[i].value) != 0)
				return berth_error_set(err, 0,
						       "linux.sysctl: \"%s\" (\"%s\") conflicts with %s (\"%s\"); "
						       "set one of them",
						       key, s->sysctl[i].value, host ? "hostname" : "domainname",
						       field);
			continue;
		}
		return berth_error_set(
		    err, EINVAL, "linux.sysctl: \"%s\" is not namespaced and would change the host; refused", key);
	}
	return 0;
}

int spec_validate(spec *s, berth_error **err)
{
	const spec_namespace *user = &s->namespaces[NS_USER];

	if (user->requested && user->path == NULL) {
		if (s->n_uid_mappings == 0)
			return berth_error_set(err, 0, "linux.uidMappings: required for a new user namespace");
		if (s->n_gid_mappings == 0)
			return berth_error_set(err, 0, "linux.gidMappings: required for a new user namespace");
	}
	if (!user->requested && (s->n_uid_mappings > 0 || s->n_gid_mappings > 0))
		return berth_error_set(err, 0,
				       "linux.uidMappings: id mappings given but no user namespace is requested");
	if (user->path != NULL && (s->n_uid_mappings > 0 || s->n_gid_mappings > 0))
		return berth_error_set(err, 0,
				       "linux.uidMappings: id mappings cannot be applied to a joined user namespace");
	if ((s->has_hostname && s->hostname[0] != '\0') && !ns_private(s, NS_UTS))
		return berth_error_set(err, 0, "hostname: setting a hostname needs a private uts namespace");
	if ((s->has_domainname && s->domainname[0] != '\0') && !ns_private(s, NS_UTS))
		return berth_error_set(err, 0, "domainname: setting a domainname needs a private uts namespace");
	if ((s->time_offsets[0].present || s->time_offsets[1].present) &&
	    (!ns_private(s, NS_TIME) || s->namespaces[NS_TIME].path != NULL))
		return berth_error_set(err, 0, "linux.timeOffsets: needs a new time namespace");
	if (s->rootfs_propagation != 0 && !ns_private(s, NS_MOUNT))
		return berth_error_set(err, 0, "linux.rootfsPropagation: needs a private mount namespace");
	/* Without a mount namespace the init builds the rootfs in a private
	 * one and returns to the caller's, which a user namespace's root could
	 * not do (it has no privilege over the caller's namespace). */
	if (!ns_private(s, NS_MOUNT) && ns_private(s, NS_USER))
		return berth_error_set(err, 0,
				       "linux.namespaces: a user namespace needs a mount namespace too (the rootfs "
				       "cannot be set up in the caller's)");
	for (size_t i = 0; i < s->n_mounts; i++) {
		const spec_mount *m = &s->mounts[i];
		if (m->type && strcmp(m->type, "cgroup") == 0 && m->bind)
			return berth_error_set(err, 0, "mounts[%zu]: a cgroup mount cannot be a bind mount", i);
		/* the detached copy made without one would leave it out */
		if (!ns_private(s, NS_MOUNT) && (m->propagation & MS_UNBINDABLE))
			return berth_error_set(err, 0, "mounts[%zu]: unbindable propagation needs a mount namespace",
					       i);
	}
	if (spec_validate_idmap_and_net_devices(s, err) < 0)
		return -1;
	return validate_sysctl(s, err);
}
