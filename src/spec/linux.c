/* config.json "linux": namespaces, id mappings, devices, sysctl, paths. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

static int parse_namespaces(json_t *linux_obj, spec *s, berth_error **err)
{
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(linux_obj, "namespaces", "linux", &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *npath = json_read_index_path("linux.namespaces", i);
		_cleanup_free_ char *type = NULL;
		_cleanup_free_ char *path = NULL;
		int t, found = -1;

		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", npath);
		if (json_read_string(item, "type", npath, &type, err) < 0 ||
		    json_read_string(item, "path", npath, &path, err) < 0)
			return -1;
		if (type == NULL)
			return berth_error_set(err, 0, "%s.type: required", npath);
		for (t = 0; t < NS_TYPES; t++)
			if (strcmp(type, spec_ns_name(t)) == 0)
				found = t;
		if (found < 0)
			return berth_error_set(err, 0, "%s.type: unknown namespace type \"%s\"", npath, type);
		if (s->namespaces[found].requested)
			return berth_error_set(err, 0, "%s.type: duplicate namespace \"%s\"", npath, type);
		if (path != NULL && path[0] == '\0')
			path = (free(path), NULL);
		if (path != NULL && path[0] != '/')
			return berth_error_set(err, 0, "%s.path: \"%s\" is not an absolute path", npath, path);
		s->namespaces[found].requested = true;
		s->namespaces[found].path = move_ptr(path);
	}
	return 0;
}

int spec_parse_id_mappings(json_t *obj, const char *key, const char *path, spec_id_mapping **out, size_t *n,
			   berth_error **err)
{
	_cleanup_free_ char *mpath = json_read_child_path(path, key);
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(obj, key, path, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	*out = calloc(json_array_size(arr) + 1, sizeof(spec_id_mapping));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "%s", mpath);
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *ipath = json_read_index_path(mpath, i);
		int64_t c, h, sz;
		bool pc, ph, ps;

		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", ipath);
		if (json_read_ranged(item, "containerID", ipath, 0, UINT32_MAX, &c, &pc, err) < 0 ||
		    json_read_ranged(item, "hostID", ipath, 0, UINT32_MAX, &h, &ph, err) < 0 ||
		    json_read_ranged(item, "size", ipath, 1, UINT32_MAX, &sz, &ps, err) < 0)
			return -1;
		if (!pc || !ph || !ps)
			return berth_error_set(err, 0, "%s: containerID, hostID and size are required", ipath);
		(*out)[i] = (spec_id_mapping){ .container_id = c, .host_id = h, .size = sz };
	}
	*n = json_array_size(arr);
	return 0;
}

static mode_t device_type_bits(char type)
{
	switch (type) {
	case 'b':
		return S_IFBLK;
	case 'p':
		return S_IFIFO;
	default:
		return S_IFCHR;
	}
}

/* Cleans the absolute PATH in place, as Go's filepath.Clean (runc): no
 * empty or "." components, ".." applied lexically (never above "/"), no
 * trailing slash: "/dev//fuse/" is "/dev/fuse". */
static void clean_absolute_path(char *path)
{
	char *out = path + 1; /* past the leading "/" */
	const char *in = path;

	while (*in != '\0') {
		const char *end;
		size_t len;

		while (*in == '/')
			in++;
		end = strchrnul(in, '/');
		len = (size_t)(end - in);
		if (len == 0 || (len == 1 && in[0] == '.')) {
			/* nothing */
		} else if (len == 2 && in[0] == '.' && in[1] == '.') {
			while (out > path + 1 && *--out != '/')
				;
		} else {
			if (out > path + 1)
				*out++ = '/';
			memmove(out, in, len);
			out += len;
		}
		in = end;
	}
	*out = '\0';
}

static int parse_devices(json_t *linux_obj, spec *s, berth_error **err)
{
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(linux_obj, "devices", "linux", &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	s->devices = calloc(json_array_size(arr) + 1, sizeof(spec_device));
	if (s->devices == NULL)
		return berth_error_set(err, ENOMEM, "linux.devices");
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *dpath = json_read_index_path("linux.devices", i);
		_cleanup_free_ char *type = NULL;
		spec_device *d = &s->devices[i];
		bool has_major, has_minor;
		int64_t v;

		s->n_devices = i + 1;
		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object", dpath);
		if (json_read_string(item, "type", dpath, &type, err) < 0 ||
		    json_read_string(item, "path", dpath, &d->path, err) < 0 ||
		    json_read_int64(item, "major", dpath, &d->major, &has_major, err) < 0 ||
		    json_read_int64(item, "minor", dpath, &d->minor, &has_minor, err) < 0)
			return -1;
		if (type == NULL || strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
			return berth_error_set(err, 0, "%s.type: expected one of \"c\", \"b\", \"u\", \"p\"", dpath);
		d->type = type[0];
		if (d->path == NULL || d->path[0] != '/')
			return berth_error_set(err, 0, "%s.path: an absolute path is required", dpath);
		clean_absolute_path(d->path);
		if (strcmp(d->path, "/") == 0)
			return berth_error_set(err, 0, "%s.path: names no device", dpath);
		if (d->type != 'p' && (!has_major || !has_minor))
			return berth_error_set(err, 0, "%s: major and minor are required for type \"%c\"", dpath,
					       d->type);
		/* podman and Docker write the whole st_mode of the host device
		 * (S_IFCHR|0666 = 8630), as runc and crun accept: the type bits
		 * must match "type"; the permission bits are the mode. */
		if (json_read_ranged(item, "fileMode", dpath, 0, S_IFMT | 07777, &v, &d->has_file_mode, err) < 0)
			return -1;
		if (d->has_file_mode && (v & S_IFMT) != 0 && (mode_t)(v & S_IFMT) != device_type_bits(d->type))
			return berth_error_set(err, 0, "%s.fileMode: file type bits %#llo do not match type \"%c\"",
					       dpath, (unsigned long long)(v & S_IFMT), d->type);
		d->file_mode = d->has_file_mode ? (mode_t)(v & 07777) : 0;
		if (json_read_ranged(item, "uid", dpath, 0, UINT32_MAX - 1, &v, &d->has_uid, err) < 0)
			return -1;
		d->uid = v;
		if (json_read_ranged(item, "gid", dpath, 0, UINT32_MAX - 1, &v, &d->has_gid, err) < 0)
			return -1;
		d->gid = v;
	}
	return 0;
}

static int parse_time_offsets(json_t *linux_obj, spec *s, berth_error **err)
{
	static const char *const clocks[2] = { "monotonic", "boottime" };
	json_t *obj = NULL;

	if (json_read_object(linux_obj, "timeOffsets", "linux", &obj, err) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	for (int c = 0; c < 2; c++) {
		_cleanup_free_ char *cpath = json_read_child_path("linux.timeOffsets", clocks[c]);
		json_t *clock = NULL;
		int64_t ns = 0;
		bool has_ns;
		if (json_read_object(obj, clocks[c], "linux.timeOffsets", &clock, err) < 0)
			return -1;
		if (clock == NULL)
			continue;
		s->time_offsets[c].present = true;
		if (json_read_int64(clock, "secs", cpath, &s->time_offsets[c].secs, NULL, err) < 0 ||
		    json_read_ranged(clock, "nanosecs", cpath, 0, 999999999, &ns, &has_ns, err) < 0)
			return -1;
		s->time_offsets[c].nanosecs = ns;
	}
	return 0;
}

static int parse_key_values(json_t *obj, const char *key, const char *path, spec_key_value **out, size_t *n,
			    berth_error **err)
{
	_cleanup_strv_ char **keys = NULL;
	_cleanup_strv_ char **values = NULL;

	if (json_read_string_map(obj, key, path, &keys, &values, n, err) < 0)
		return -1;
	if (*n == 0)
		return 0;
	*out = calloc(*n, sizeof(spec_key_value));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "%s.%s", path, key);
	for (size_t i = 0; i < *n; i++) {
		(*out)[i].key = move_ptr(keys[i]);
		(*out)[i].value = move_ptr(values[i]);
	}
	return 0;
}

static int parse_rootfs_propagation(json_t *linux_obj, spec *s, berth_error **err)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} modes[] = {
		{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
		{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};
	_cleanup_free_ char *mode = NULL;

	if (json_read_string(linux_obj, "rootfsPropagation", "linux", &mode, err) < 0)
		return -1;
	if (mode == NULL || mode[0] == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i].name) == 0) {
			s->rootfs_propagation = modes[i].flags;
			return 0;
		}
	return berth_error_set(err, 0, "linux.rootfsPropagation: unknown propagation \"%s\"", mode);
}

static int parse_personality(json_t *linux_obj, spec *s, berth_error **err)
{
	_cleanup_free_ char *domain = NULL;
	json_t *obj = NULL;

	if (json_read_object(linux_obj, "personality", "linux", &obj, err) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (json_read_string(obj, "domain", "linux.personality", &domain, err) < 0)
		return -1;
	if (domain == NULL)
		return berth_error_set(err, 0, "linux.personality.domain: required");
	if (strcmp(domain, "LINUX") == 0)
		s->personality.domain = PER_LINUX;
	else if (strcmp(domain, "LINUX32") == 0)
		s->personality.domain = PER_LINUX32;
	else
		return berth_error_set(err, 0, "linux.personality.domain: unknown domain \"%s\"", domain);
	s->personality.present = true;
	return 0;
}

static int parse_path_list(json_t *linux_obj, const char *key, char ***out, size_t *n, berth_error **err)
{
	if (json_read_string_array(linux_obj, key, "linux", out, n, err) < 0)
		return -1;
	for (size_t i = 0; *out && i < *n; i++)
		if ((*out)[i][0] != '/')
			return berth_error_set(err, 0, "linux.%s[%zu]: \"%s\" is not an absolute path", key, i,
					       (*out)[i]);
	return 0;
}

int spec_parse_linux(json_t *linux_obj, spec *s, berth_error **err)
{
	json_t *resources = NULL, *seccomp = NULL;

	if (parse_namespaces(linux_obj, s, err) < 0 ||
	    spec_parse_id_mappings(linux_obj, "uidMappings", "linux", &s->uid_mappings, &s->n_uid_mappings, err) < 0 ||
	    spec_parse_id_mappings(linux_obj, "gidMappings", "linux", &s->gid_mappings, &s->n_gid_mappings, err) < 0 ||
	    parse_time_offsets(linux_obj, s, err) < 0 || parse_devices(linux_obj, s, err) < 0)
		return -1;
	if (json_read_string(linux_obj, "cgroupsPath", "linux", &s->cgroups_path, err) < 0)
		return -1;
	if (json_read_object(linux_obj, "resources", "linux", &resources, err) < 0)
		return -1;
	if (resources != NULL) {
		s->has_resources = true;
		if (spec_parse_resources_object(resources, "linux.resources", &s->resources, err) < 0)
			return -1;
	}
	if (parse_rootfs_propagation(linux_obj, s, err) < 0)
		return -1;
	if (json_read_object(linux_obj, "seccomp", "linux", &seccomp, err) < 0)
		return -1;
	if (seccomp != NULL && spec_parse_seccomp(seccomp, "linux.seccomp", &s->seccomp, err) < 0)
		return -1;
	if (parse_key_values(linux_obj, "sysctl", "linux", &s->sysctl, &s->n_sysctl, err) < 0 ||
	    parse_path_list(linux_obj, "maskedPaths", &s->masked_paths, &s->n_masked_paths, err) < 0 ||
	    parse_path_list(linux_obj, "readonlyPaths", &s->readonly_paths, &s->n_readonly_paths, err) < 0 ||
	    json_read_string(linux_obj, "mountLabel", "linux", &s->mount_label, err) < 0 ||
	    parse_personality(linux_obj, s, err) < 0)
		return -1;
	if (spec_parse_memory_policy(linux_obj, &s->memory_policy, err) < 0 ||
	    spec_parse_net_devices(linux_obj, s, err) < 0)
		return -1;
	return 0;
}
