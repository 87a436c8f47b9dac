/* config.json top level: ociVersion, root, hostname, mounts, hooks, annotations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const struct mount_option {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_options[] = {
	{ "defaults", false, 0 },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "suid", true, MS_NOSUID },
	{ "nosuid", false, MS_NOSUID },
	{ "dev", true, MS_NODEV },
	{ "nodev", false, MS_NODEV },
	{ "exec", true, MS_NOEXEC },
	{ "noexec", false, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "atime", true, MS_NOATIME },
	{ "noatime", false, MS_NOATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "lazytime", false, MS_LAZYTIME },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "silent", false, MS_SILENT },
	{ "loud", true, MS_SILENT },
	{ "nosymfollow", false, MS_NOSYMFOLLOW },
	{ "symfollow", true, MS_NOSYMFOLLOW },
};

static const struct {
	const char *name;
	unsigned long flags;
} propagation_options[] = {
	{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
	{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* Options that other runtimes accept and that need no flag here. */
static const char *const ignored_options[] = { "tmpcopyup", "copy-symlink", "notmpcopyup", "z", "Z", "U" };

static int append_data(spec_mount *m, const char *opt)
{
	char *joined = NULL;
	if (m->data == NULL)
		joined = strdup(opt);
	else if (asprintf(&joined, "%s,%s", m->data, opt) < 0)
		joined = NULL;
	if (joined == NULL)
		return -ENOMEM;
	free(m->data);
	m->data = joined;
	return 0;
}

int spec_parse_mount_options(char **options, const char *path, spec_mount *m, berth_error **err)
{
	for (size_t i = 0; options && options[i]; i++) {
		const char *opt = options[i];
		bool handled = false;
		size_t k;

		if (strcmp(opt, "bind") == 0) {
			m->bind = true;
			continue;
		}
		if (strcmp(opt, "rbind") == 0) {
			m->bind = m->rbind = true;
			continue;
		}
		if (strcmp(opt, "idmap") == 0 || strcmp(opt, "ridmap") == 0) {
			m->idmap = true;
			m->idmap_recursive |= opt[0] == 'r';
			continue;
		}
		if (strcmp(opt, "rro") == 0) {
			m->has_recursive_ro = true;
			m->flags |= MS_RDONLY;
			continue;
		}
		for (k = 0; k < sizeof(mount_options) / sizeof(mount_options[0]); k++) {
			if (strcmp(opt, mount_options[k].name) != 0)
				continue;
			if (mount_options[k].clear) {
				m->flags &= ~mount_options[k].flag;
				m->clear_flags |= mount_options[k].flag;
			} else {
				m->flags |= mount_options[k].flag;
				m->clear_flags &= ~mount_options[k].flag;
			}
			handled = true;
		}
		for (k = 0; !handled && k < sizeof(propagation_options) / sizeof(propagation_options[0]); k++) {
			if (strcmp(opt, propagation_options[k].name) == 0) {
				m->propagation = propagation_options[k].flags;
				handled = true;
			}
		}
		for (k = 0; !handled && k < sizeof(ignored_options) / sizeof(ignored_options[0]); k++)
			if (strcmp(opt, ignored_options[k]) == 0)
				handled = true;
		if (handled)
			continue;
		if (opt[0] == 'r' && opt[1] != '\0' && strchr(opt, '=') == NULL) {
			/* recursive attributes of runtime-spec 1.1 (rnosuid, rnodev...) */
			for (k = 0; k < sizeof(mount_options) / sizeof(mount_options[0]); k++)
				if (strcmp(opt + 1, mount_options[k].name) == 0 && !mount_options[k].clear &&
				    mount_options[k].flag != 0) {
					m->flags |= mount_options[k].flag;
					handled = true;
				} else if (strcmp(opt + 1, mount_options[k].name) == 0) {
					handled = true;
				}
			if (handled)
				continue;
		}
		if (append_data(m, opt) < 0)
			return berth_error_set(err, ENOMEM, "%s.options", path);
	}
	return 0;
}

static int parse_mounts(json_t *root, spec *s, berth_error **err)
{
	json_t *arr = NULL, *item;
	size_t i;

	if (json_read_array(root, "mounts", "", &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	s->mounts = calloc(json_array_size(arr) + 1, sizeof(spec_mount));
	if (s->mounts == NULL)
		return berth_error_set(err, ENOMEM, "mounts");
	json_array_foreach(arr, i, item) {
		_cleanup_free_ char *mpath = json_read_index_path("mounts", i);
		spec_mount *m = &s->mounts[i];

		s->n_mounts = i + 1;
		if (!json_is_object(item))
			return berth_error_set(err, 0, "%s: expected an object, got %s", mpath,
					       json_read_type_name(item));
		if (json_read_string(item, "destination", mpath, &m->destination, err) < 0 ||
		    json_read_string(item, "type", mpath, &m->type, err) < 0 ||
		    json_read_string(item, "source", mpath, &m->source, err) < 0 ||
		    json_read_string_array(item, "options", mpath, &m->options, NULL, err) < 0)
			return -1;
		if (m->destination == NULL || m->destination[0] == '\0')
			return berth_error_set(err, 0, "%s.destination: required", mpath);
		if (m->destination[0] != '/') {
			/* runtime-spec 1.0 allowed relative destinations: rootfs-relative */
			char *abs = fs_path_join("/", m->destination);
			if (abs == NULL)
				return berth_error_set(err, ENOMEM, "%s", mpath);
			free(m->destination);
			m->destination = abs;
		}
		if (spec_parse_mount_options(m->options, mpath, m, err) < 0 ||
		    spec_parse_mount_idmap(item, mpath, m, err) < 0)
			return -1;
		if (m->type == NULL && !m->bind)
			return berth_error_set(err, 0, "%s.type: required unless options contain \"bind\"", mpath);
		if (m->type != NULL && strcmp(m->type, "bind") == 0)
			m->bind = true;
		if (m->bind && (m->source == NULL || m->source[0] == '\0'))
			return berth_error_set(err, 0, "%s.source: required for a bind mount", mpath);
	}
	return 0;
}

static int parse_hooks(json_t *root, spec *s, berth_error **err)
{
	json_t *hooks = NULL;

	if (json_read_object(root, "hooks", "", &hooks, err) < 0)
		return -1;
	if (hooks == NULL)
		return 0;
	for (int kind = 0; kind < HOOK_KINDS; kind++) {
		_cleanup_free_ char *kpath = json_read_child_path("hooks", spec_hook_kind_name(kind));
		json_t *arr = NULL, *item;
		size_t i;

		if (json_read_array(hooks, spec_hook_kind_name(kind), "hooks", &arr, err) < 0)
			return -1;
		if (arr == NULL)
			continue;
		s->hooks[kind].hooks = calloc(json_array_size(arr) + 1, sizeof(spec_hook));
		if (s->hooks[kind].hooks == NULL)
			return berth_error_set(err, ENOMEM, "%s", kpath);
		json_array_foreach(arr, i, item) {
			_cleanup_free_ char *hpath = json_read_index_path(kpath, i);
			spec_hook *h = &s->hooks[kind].hooks[i];
			int64_t timeout = 0;
			bool has_timeout;

			s->hooks[kind].n = i + 1;
			if (!json_is_object(item))
				return berth_error_set(err, 0, "%s: expected an object", hpath);
			if (json_read_string(item, "path", hpath, &h->path, err) < 0 ||
			    json_read_string_array(item, "args", hpath, &h->args, NULL, err) < 0 ||
			    json_read_string_array(item, "env", hpath, &h->env, NULL, err) < 0 ||
			    json_read_int64(item, "timeout", hpath, &timeout, &has_timeout, err) < 0)
				return -1;
			if (h->path == NULL || h->path[0] != '/')
				return berth_error_set(err, 0, "%s.path: an absolute path is required", hpath);
			if (has_timeout && (timeout <= 0 || timeout > 86400))
				return berth_error_set(err, 0, "%s.timeout: must be a positive number of seconds",
						       hpath);
			h->timeout = (int)timeout;
		}
	}
	return 0;
}

static int parse_annotations(json_t *root, spec *s, berth_error **err)
{
	_cleanup_strv_ char **keys = NULL;
	_cleanup_strv_ char **values = NULL;
	size_t n = 0;

	if (json_read_string_map(root, "annotations", "", &keys, &values, &n, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	s->annotations = calloc(n, sizeof(spec_key_value));
	if (s->annotations == NULL)
		return berth_error_set(err, ENOMEM, "annotations");
	for (size_t i = 0; i < n; i++) {
		s->annotations[i].key = move_ptr(keys[i]);
		s->annotations[i].value = move_ptr(values[i]);
	}
	s->n_annotations = n;
	return 0;
}

static int parse_document(json_t *root, spec *s, berth_error **err)
{
	json_t *rootobj = NULL, *proc = NULL, *linux_obj = NULL;

	if (json_read_string(root, "ociVersion", "", &s->oci_version, err) < 0)
		return -1;
	if (s->oci_version == NULL)
		return berth_error_set(err, 0, "ociVersion: required");
	if (strncmp(s->oci_version, "1.", 2) != 0)
		return berth_error_set(err, 0, "ociVersion: unsupported version \"%s\" (1.x is supported)",
				       s->oci_version);
	if (json_read_object(root, "root", "", &rootobj, err) < 0)
		return -1;
	if (rootobj == NULL)
		return berth_error_set(err, 0, "root: required");
	if (json_read_string(rootobj, "path", "root", &s->root_path, err) < 0 ||
	    json_read_bool(rootobj, "readonly", "root", &s->root_readonly, NULL, err) < 0)
		return -1;
	if (s->root_path == NULL || s->root_path[0] == '\0')
		return berth_error_set(err, 0, "root.path: required");
	if (json_read_string(root, "hostname", "", &s->hostname, err) < 0 ||
	    json_read_string(root, "domainname", "", &s->domainname, err) < 0)
		return -1;
	s->has_hostname = s->hostname != NULL;
	s->has_domainname = s->domainname != NULL;
	if (json_read_object(root, "process", "", &proc, err) < 0)
		return -1;
	if (proc != NULL) {
		s->process = calloc(1, sizeof(*s->process));
		if (s->process == NULL)
			return berth_error_set(err, ENOMEM, "process");
		if (spec_parse_process_object(proc, "process", s->process, err) < 0)
			return -1;
	}
	if (parse_mounts(root, s, err) < 0 || parse_hooks(root, s, err) < 0 || parse_annotations(root, s, err) < 0)
		return -1;
	if (json_read_object(root, "linux", "", &linux_obj, err) < 0)
		return -1;
	if (linux_obj != NULL && spec_parse_linux(linux_obj, s, err) < 0)
		return -1;
	return spec_validate(s, err);
}

int spec_parse(const char *json_text, spec **out, berth_error **err)
{
	json_error_t jerr;
	json_t *root = json_read_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
	spec *s;
	int ret;

	if (root == NULL)
		return berth_error_set(err, 0, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
				       jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return berth_error_set(err, 0, "expected a JSON object at the top level");
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		json_decref(root);
		return berth_error_set(err, ENOMEM, "parse config");
	}
	ret = parse_document(root, s, err);
	json_decref(root);
	if (ret < 0) {
		spec_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

int spec_load(const char *path, spec **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;

	if (fs_read_file(path, &text, NULL, err) < 0)
		return -1;
	if (spec_parse(text, out, err) < 0)
		return berth_error_wrap(err, "%s", path);
	return 0;
}

static void free_kv(spec_key_value *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void spec_free(spec *s)
{
	if (s == NULL)
		return;
	free(s->oci_version);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	spec_process_free(s->process);
	for (size_t i = 0; i < s->n_mounts; i++) {
		spec_mount *m = &s->mounts[i];
		free(m->destination);
		free(m->type);
		free(m->source);
		cleanup_strvp(&m->options);
		free(m->data);
		free(m->uid_mappings);
		free(m->gid_mappings);
	}
	free(s->mounts);
	for (int k = 0; k < HOOK_KINDS; k++) {
		for (size_t i = 0; i < s->hooks[k].n; i++) {
			free(s->hooks[k].hooks[i].path);
			cleanup_strvp(&s->hooks[k].hooks[i].args);
			cleanup_strvp(&s->hooks[k].hooks[i].env);
		}
		free(s->hooks[k].hooks);
	}
	free_kv(s->annotations, s->n_annotations);
	for (int t = 0; t < NS_TYPES; t++)
		free(s->namespaces[t].path);
	free(s->uid_mappings);
	free(s->gid_mappings);
	for (size_t i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s->cgroups_path);
	spec_resources_clear(&s->resources);
	spec_seccomp_clear(&s->seccomp);
	free_kv(s->sysctl, s->n_sysctl);
	cleanup_strvp(&s->masked_paths);
	cleanup_strvp(&s->readonly_paths);
	free(s->mount_label);
	spec_memory_policy_clear(&s->memory_policy);
	spec_net_devices_clear(s);
	free(s);
}
