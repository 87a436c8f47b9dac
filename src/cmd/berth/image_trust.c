/* berth image trust show|set: the signature policy, read and edited like
 * `podman image trust` (image/trust.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/trust.h"
#include "spec/json_read.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const option_spec show_specs[] = {
	{ "raw", 0, false, "print the policy file as it is" },
	{ "json", 'j', false, "print the entries as JSON" },
	{ "noheading", 'n', false, "no header line" },
	{ "policypath", 0, true, "the policy file (default: the one pull reads)" },
	{ "signature-policy", 0, true, "the same as --policypath" },
	{ "registries.d", 0, true, "directory of registries.d YAML files (the lookaside column)" },
	{ NULL, 0, false, NULL },
};

enum { S_RAW, S_JSON, S_NOHEADING, S_POLICYPATH, S_SIGNATURE_POLICY, S_REGISTRIES_D, S_COUNT };

static void print_table(json_t *entries, bool heading)
{
	berth_table t = { .ncols = 5 };
	size_t i;
	json_t *e;

	if (heading)
		berth_table_add(&t, (const char *const[]){ "TRANSPORT", "NAME", "TYPE", "ID", "STORE" });
	json_array_foreach(entries, i, e) {
		_cleanup_free_ char *keys = NULL;
		size_t k;
		json_t *key;
		json_array_foreach(json_object_get(e, "keys"), k, key) {
			char *more = NULL;
			if (asprintf(&more, "%s%s%s", keys ? keys : "", keys ? ", " : "", json_string_value(key)) < 0)
				break;
			free(keys);
			keys = more;
		}
		berth_table_add(&t, (const char *const[]){ json_string_value(json_object_get(e, "transport")),
							   json_string_value(json_object_get(e, "repo_name")),
							   json_string_value(json_object_get(e, "type")), keys,
							   json_string_value(json_object_get(e, "sigstore")) });
	}
	berth_table_print(&t);
}

static int show(const berth_globals *g, const option_value *v, berth_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_json_ json_t *entries = NULL;
	trust_registries registries = { 0 };
	trust_policy policy = { 0 };
	const char *override = v[S_POLICYPATH].value ? v[S_POLICYPATH].value : v[S_SIGNATURE_POLICY].value;
	size_t len = 0;

	if (option_bool(&v[S_RAW])) {
		if ((path = trust_policy_path(override, g->rootless)) == NULL)
			return berth_error_set(err, ENOMEM, "image trust show");
		if (fs_read_file(path, &text, &len, err) < 0)
			return berth_error_wrap(err, "image trust show");
		fwrite(text, 1, len, stdout);
		return 0;
	}
	if (trust_policy_load(override, g->rootless, &policy, err) < 0 ||
	    trust_registries_load(v[S_REGISTRIES_D].value, g->rootless, &registries, err) < 0) {
		trust_policy_free(&policy);
		return berth_error_wrap(err, "image trust show");
	}
	entries = trust_policy_show(&policy, &registries);
	trust_registries_free(&registries);
	trust_policy_free(&policy);
	if (entries == NULL)
		return berth_error_set(err, ENOMEM, "image trust show");
	if (option_bool(&v[S_JSON]))
		berth_print_json(entries);
	else
		print_table(entries, !option_bool(&v[S_NOHEADING]));
	return 0;
}

static int trust_show(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[S_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos = 0, ret;

	ret = berth_parse("image trust show", "image trust show [--raw | --json] [--policypath FILE]", show_specs, argc,
			  argv, false, v, &pos, &npos, 0, 0, err);
	if (ret == 0)
		ret = show(g, v, err);
	options_free_values(v, S_COUNT);
	return ret < 0 ? 125 : 0;
}

static const option_spec set_specs[] = {
	{ "type", 't', true, "accept, reject, signedBy or sigstoreSigned" },
	{ "pubkeysfile", 'f', true, "a public key file (signedBy: repeatable, any of them may sign)" },
	{ "policypath", 0, true, "the policy file (default: the one pull reads)" },
	{ "signature-policy", 0, true, "the same as --policypath" },
	{ NULL, 0, false, NULL },
};

enum { T_TYPE, T_PUBKEYSFILE, T_POLICYPATH, T_SIGNATURE_POLICY, T_COUNT };

static int trust_set(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[T_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *path = NULL, *cwd = NULL;
	_cleanup_strv_ char **keys = NULL;
	int npos = 0, n, ret;

	ret = berth_parse("image trust set",
			  "image trust set --type accept|reject|signedBy|sigstoreSigned [--pubkeysfile FILE]... "
			  "default|REGISTRY[/REPOSITORY]",
			  set_specs, argc, argv, false, v, &pos, &npos, 1, 1, err);
	if (ret != 0) {
		options_free_values(v, T_COUNT);
		return ret < 0 ? 125 : 0;
	}
	n = v[T_PUBKEYSFILE].count;
	keys = calloc((size_t)n + 1, sizeof(char *));
	path =
	    trust_policy_path(v[T_POLICYPATH].value ? v[T_POLICYPATH].value : v[T_SIGNATURE_POLICY].value, g->rootless);
	cwd = getcwd(NULL, 0);
	if (keys == NULL || path == NULL || cwd == NULL)
		ret = berth_error_set(err, errno ? errno : ENOMEM, "image trust set");
	/* key paths in a policy are absolute */
	for (int i = 0; ret == 0 && i < n; i++) {
		const char *k = v[T_PUBKEYSFILE].all[i];
		if ((keys[i] = k[0] == '/' ? strdup(k) : fs_path_join(cwd, k)) == NULL)
			ret = berth_error_set(err, ENOMEM, "image trust set");
	}
	if (ret == 0 && !v[T_TYPE].set)
		ret = berth_error_request(err, EINVAL, "image trust set: --type is required");
	if (ret == 0 && (ret = trust_policy_set(path, pos[0], v[T_TYPE].value, keys, err)) < 0)
		berth_error_wrap(err, "image trust set");
	options_free_values(v, T_COUNT);
	return ret < 0 ? 125 : 0;
}

int cmd_image_trust(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc >= 1 && strcmp(argv[0], "show") == 0)
		return trust_show(g, argc - 1, argv + 1, err);
	if (argc >= 1 && strcmp(argv[0], "set") == 0)
		return trust_set(g, argc - 1, argv + 1, err);
	if (argc >= 1 && strcmp(argv[0], "--help") != 0 && strcmp(argv[0], "-h") != 0)
		return berth_error_set(err, 0, "image trust: unknown command \"%s\" (see berth image trust --help)",
				       argv[0]);
	printf("usage: berth image trust show|set [flags]\n\n"
	       "   show   print the signature policy (--raw: the file, --json)\n"
	       "   set    set the requirement of a scope (--type, --pubkeysfile)\n");
	return argc < 1 ? 125 : 0;
}
