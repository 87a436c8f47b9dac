#include "kube/validate.h"

#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/quantity.h"
#include "spec/json_read.h"
#include "kube/kube_internal.h"
#include "util/cleanup.h"

#define invalid(err, ...) berth_error_request(err, EINVAL, __VA_ARGS__)

/* ---- names */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool kube_is_dns1123_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool kube_is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	_cleanup_free_ char *copy = strdup(s);
	if (copy == NULL)
		return false;
	char *save = NULL;
	size_t parts = 0;
	for (char *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save), parts++)
		if (!kube_is_dns1123_label(part))
			return false;
	/* strtok_r skips empty parts: "a..b" and ".a" are not names */
	return strstr(s, "..") == NULL && s[0] != '.' && s[n - 1] != '.' && parts > 0;
}

/* The name part of a label key or a label value: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63. */
static bool is_qualified_part(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* [PREFIX/]NAME with PREFIX a DNS subdomain */
static bool is_qualified_name(const char *s)
{
	const char *slash = strchr(s, '/');
	if (slash == NULL)
		return is_qualified_part(s, strlen(s));
	_cleanup_free_ char *prefix = strndup(s, (size_t)(slash - s));
	return prefix != NULL && kube_is_dns1123_subdomain(prefix) && is_qualified_part(slash + 1, strlen(slash + 1));
}

static bool is_label_value(const char *s)
{
	return s[0] == '\0' || is_qualified_part(s, strlen(s));
}

/* IANA_SVC_NAME: <= 15 lowercase letters, digits and '-', a letter among them, no "--". */
static bool is_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;
	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

/* ConfigMap and Secret keys: [-._a-zA-Z0-9]+, <= 253, not "." or "..". */
static bool is_config_key(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* ---- small readers (types were checked by the schema) */

static const char *str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool has(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return v != NULL && !json_is_null(v);
}

static int int_at_least(json_t *obj, const char *key, const char *path, json_int_t min, berth_error **err)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v) && json_integer_value(v) < min)
		return invalid(err, "%s.%s: must be %lld or more", path, key, (long long)min);
	return 0;
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static int enum_field(json_t *obj, const char *key, const char *path, const char *const *allowed, berth_error **err)
{
	const char *v = str(obj, key);
	if (v == NULL || one_of(v, allowed))
		return 0;
	char list[256] = "";
	for (const char *const *a = allowed; *a; a++) {
		strncat(list, a == allowed ? "" : ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, *a, sizeof(list) - strlen(list) - 1);
	}
	return invalid(err, "%s.%s: unsupported value \"%s\" (one of: %s)", path, key, v, list);
}

static int count_present(json_t *obj, const char *const *keys)
{
	int n = 0;
	for (; *keys; keys++)
		n += has(obj, *keys);
	return n;
}

#define FOREACH_ITEM(list, i, item) json_array_foreach((list), (i), (item))

/* ---- metadata */

static int validate_metadata(json_t *meta, const char *path, berth_error **err)
{
	const char *name = str(meta, "name");
	const char *ns = str(meta, "namespace");
	const char *key;
	json_t *value;

	if (name == NULL || name[0] == '\0')
		return invalid(err, "%s.name: required", path);
	if (!kube_is_dns1123_subdomain(name))
		return invalid(err,
			       "%s.name: \"%s\" is not a valid name (lowercase letters, digits, '-' and '.', "
			       "starting and ending with a letter or digit, at most 253)",
			       path, name);
	if (ns != NULL && !kube_is_dns1123_label(ns))
		return invalid(err, "%s.namespace: \"%s\" is not a valid namespace (a DNS-1123 label)", path, ns);
	json_object_foreach(json_object_get(meta, "labels"), key, value) {
		if (!is_qualified_name(key))
			return invalid(err, "%s.labels: invalid label key \"%s\"", path, key);
		if (json_is_string(value) && !is_label_value(json_string_value(value)))
			return invalid(err, "%s.labels.%s: invalid label value \"%s\"", path, key,
				       json_string_value(value));
	}
	json_object_foreach(json_object_get(meta, "annotations"), key, value) {
		if (!is_qualified_name(key))
			return invalid(err, "%s.annotations: invalid annotation key \"%s\"", path, key);
	}
	return 0;
}

static int require_metadata(json_t *obj, berth_error **err)
{
	json_t *meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta))
		return invalid(err, "metadata: required (with a name)");
	return validate_metadata(meta, "metadata", err);
}

int kube_validate_object_metadata(json_t *obj, berth_error **err)
{
	return require_metadata(obj, err);
}

/* ---- selectors */

static int validate_selector(json_t *sel, const char *path, berth_error **err)
{
	static const char *const operators[] = { "In", "NotIn", "Exists", "DoesNotExist", NULL };
	const char *key;
	json_t *value, *expr;
	size_t i;
	json_object_foreach(json_object_get(sel, "matchLabels"), key, value) {
		if (!is_qualified_name(key) || (json_is_string(value) && !is_label_value(json_string_value(value))))
			return invalid(err, "%s.matchLabels: invalid label \"%s\"", path, key);
	}
	FOREACH_ITEM(json_object_get(sel, "matchExpressions"), i, expr)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.matchExpressions[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		const char *op = str(expr, "operator");
		size_t n_values = json_array_size(json_object_get(expr, "values"));
		if (str(expr, "key") == NULL || !is_qualified_name(str(expr, "key")))
			return invalid(err, "%s.key: required, a label key", p);
		if (op == NULL)
			return invalid(err, "%s.operator: required", p);
		if (enum_field(expr, "operator", p, operators, err) < 0)
			return -1;
		bool set_op = strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
		if (set_op && n_values == 0)
			return invalid(err, "%s.values: required for operator %s", p, op);
		if (!set_op && n_values != 0)
			return invalid(err, "%s.values: must be empty for operator %s", p, op);
	}
	return 0;
}

static bool value_in(json_t *values, const char *v)
{
	size_t i;
	json_t *item;
	json_array_foreach(values, i, item)
		if (json_is_string(item) && strcmp(json_string_value(item), v) == 0)
			return true;
	return false;
}

bool kube_selector_matches(json_t *selector, json_t *labels)
{
	const char *key;
	json_t *value, *expr;
	size_t i;
	json_object_foreach(json_object_get(selector, "matchLabels"), key, value) {
		const char *have = str(labels, key);
		if (have == NULL || !json_is_string(value) || strcmp(have, json_string_value(value)) != 0)
			return false;
	}
	json_array_foreach(json_object_get(selector, "matchExpressions"), i, expr) {
		const char *k = str(expr, "key"), *op = str(expr, "operator");
		const char *have = k ? str(labels, k) : NULL;
		json_t *values = json_object_get(expr, "values");
		if (k == NULL || op == NULL)
			return false;
		if (strcmp(op, "In") == 0 && (have == NULL || !value_in(values, have)))
			return false;
		if (strcmp(op, "NotIn") == 0 && have != NULL && value_in(values, have))
			return false;
		if (strcmp(op, "Exists") == 0 && have == NULL)
			return false;
		if (strcmp(op, "DoesNotExist") == 0 && have != NULL)
			return false;
	}
	return true;
}

/* ---- containers */

static int validate_port_ref(json_t *obj, const char *path, berth_error **err)
{
	json_t *port = json_object_get(obj, "port");
	if (port == NULL || json_is_null(port))
		return invalid(err, "%s.port: required", path);
	if (json_is_integer(port) && (json_integer_value(port) < 1 || json_integer_value(port) > 65535))
		return invalid(err, "%s.port: %lld is not a port (1-65535)", path, (long long)json_integer_value(port));
	if (json_is_string(port) && !is_port_name(json_string_value(port)))
		return invalid(err, "%s.port: \"%s\" is neither a port number nor a port name", path,
			       json_string_value(port));
	return 0;
}

static int validate_handler(json_t *h, const char *path, const char *const *kinds, berth_error **err)
{
	int n = count_present(h, kinds);
	if (n != 1)
		return invalid(err, "%s: %s", path,
			       n == 0 ? "needs a handler (exec, httpGet or tcpSocket)" : "may have only one handler");
	json_t *exec = json_object_get(h, "exec");
	if (has(h, "exec") && json_array_size(json_object_get(exec, "command")) == 0)
		return invalid(err, "%s.exec.command: required", path);
	if (has(h, "httpGet")) {
		static const char *const schemes[] = { "HTTP", "HTTPS", NULL };
		_cleanup_free_ char *p = json_read_child_path(path, "httpGet");
		if (p == NULL || validate_port_ref(json_object_get(h, "httpGet"), p, err) < 0 ||
		    enum_field(json_object_get(h, "httpGet"), "scheme", p, schemes, err) < 0)
			return -1;
	}
	if (has(h, "tcpSocket")) {
		_cleanup_free_ char *p = json_read_child_path(path, "tcpSocket");
		if (p == NULL || validate_port_ref(json_object_get(h, "tcpSocket"), p, err) < 0)
			return -1;
	}
	if (has(h, "sleep") && int_at_least(json_object_get(h, "sleep"), "seconds", path, 0, err) < 0)
		return -1;
	return 0;
}

static int validate_probe(json_t *c, const char *key, const char *path, berth_error **err)
{
	static const char *const handlers[] = { "exec", "httpGet", "tcpSocket", "grpc", NULL };
	json_t *probe = json_object_get(c, key);
	if (!json_is_object(probe))
		return 0;
	_cleanup_free_ char *p = json_read_child_path(path, key);
	if (p == NULL)
		return berth_error_set(err, ENOMEM, "path");
	if (validate_handler(probe, p, handlers, err) < 0 ||
	    int_at_least(probe, "initialDelaySeconds", p, 0, err) < 0 ||
	    int_at_least(probe, "timeoutSeconds", p, 1, err) < 0 ||
	    int_at_least(probe, "periodSeconds", p, 1, err) < 0 ||
	    int_at_least(probe, "successThreshold", p, 1, err) < 0 ||
	    int_at_least(probe, "failureThreshold", p, 1, err) < 0)
		return -1;
	json_t *success = json_object_get(probe, "successThreshold");
	if (strcmp(key, "readinessProbe") != 0 && json_is_integer(success) && json_integer_value(success) != 1)
		return invalid(err, "%s.successThreshold: must be 1 for a %s", p, key);
	return 0;
}

static int validate_env(json_t *c, const char *path, berth_error **err)
{
	static const char *const sources[] = { "configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef",
					       NULL };
	static const char *const field_paths[] = {
		"metadata.name", "metadata.namespace", "metadata.uid",	"spec.nodeName",  "spec.serviceAccountName",
		"status.podIP",	 "status.podIPs",      "status.hostIP", "status.hostIPs", NULL
	};
	size_t i;
	json_t *env;
	FOREACH_ITEM(json_object_get(c, "env"), i, env)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.env[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		const char *name = str(env, "name");
		if (name == NULL || name[0] == '\0')
			return invalid(err, "%s.name: required", p);
		if (strchr(name, '=') != NULL)
			return invalid(err, "%s.name: \"%s\" may not contain '='", p, name);
		json_t *from = json_object_get(env, "valueFrom");
		if (!json_is_object(from))
			continue;
		if (has(env, "value") && json_string_value(json_object_get(env, "value"))[0] != '\0')
			return invalid(err, "%s.valueFrom: may not be set together with value", p);
		if (count_present(from, sources) != 1)
			return invalid(err,
				       "%s.valueFrom: needs exactly one of configMapKeyRef, secretKeyRef, "
				       "fieldRef, resourceFieldRef",
				       p);
		for (int k = 0; k < 2; k++) {
			json_t *ref = json_object_get(from, sources[k]);
			if (json_is_object(ref) && (str(ref, "name") == NULL || str(ref, "key") == NULL))
				return invalid(err, "%s.valueFrom.%s: name and key are required", p, sources[k]);
		}
		json_t *field = json_object_get(from, "fieldRef");
		if (json_is_object(field)) {
			const char *fp = str(field, "fieldPath");
			bool label = fp && (strncmp(fp, "metadata.labels['", 17) == 0 ||
					    strncmp(fp, "metadata.annotations['", 22) == 0);
			if (fp == NULL || (!label && !one_of(fp, field_paths)))
				return invalid(err, "%s.valueFrom.fieldRef.fieldPath: unsupported \"%s\"", p,
					       fp ? fp : "");
		}
		json_t *res = json_object_get(from, "resourceFieldRef");
		if (json_is_object(res)) {
			static const char *const resources[] = { "limits.cpu", "limits.memory", "requests.cpu",
								 "requests.memory", NULL };
			const char *r = str(res, "resource");
			if (r == NULL || !one_of(r, resources))
				return invalid(err, "%s.valueFrom.resourceFieldRef.resource: unsupported \"%s\"", p,
					       r ? r : "");
		}
	}
	json_t *from;
	FOREACH_ITEM(json_object_get(c, "envFrom"), i, from)
	{
		static const char *const refs[] = { "configMapRef", "secretRef", NULL };
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.envFrom[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		if (count_present(from, refs) != 1)
			return invalid(err, "%s: needs exactly one of configMapRef, secretRef", p);
		json_t *ref = has(from, "configMapRef") ? json_object_get(from, "configMapRef")
							: json_object_get(from, "secretRef");
		if (str(ref, "name") == NULL)
			return invalid(err, "%s: the reference needs a name", p);
	}
	return 0;
}

static int validate_resources(json_t *c, const char *path, berth_error **err)
{
	static const char *const known[] = { "cpu", "memory", "ephemeral-storage", NULL };
	json_t *res = json_object_get(c, "resources");
	int64_t limit[2] = { -1, -1 }, request[2] = { -1, -1 };
	for (int which = 0; which < 2; which++) {
		const char *section = which == 0 ? "limits" : "requests";
		const char *key;
		json_t *v;
		json_object_foreach(json_object_get(res, section), key, v) {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s.resources.%s.%s", path, section, key) < 0)
				return berth_error_set(err, ENOMEM, "path");
			if (!one_of(key, known))
				return berth_error_request(err, ENOTSUP,
							   "%s: not supported by berth (cpu, memory and "
							   "ephemeral-storage only)",
							   p);
			int64_t milli;
			if (kube_quantity_from_json(v, p, &milli, err) < 0)
				return -1;
			int slot = strcmp(key, "cpu") == 0 ? 0 : strcmp(key, "memory") == 0 ? 1 : -1;
			if (slot >= 0)
				(which == 0 ? limit : request)[slot] = milli;
		}
	}
	for (int slot = 0; slot < 2; slot++)
		if (limit[slot] >= 0 && request[slot] > limit[slot])
			return invalid(err, "%s.resources.requests.%s: must be less than or equal to the limit", path,
				       slot == 0 ? "cpu" : "memory");
	return 0;
}

static int validate_security(json_t *sc, const char *path, berth_error **err)
{
	static const char *const seccomp_types[] = { "RuntimeDefault", "Unconfined", "Localhost", NULL };
	if (!json_is_object(sc))
		return 0;
	_cleanup_free_ char *p = json_read_child_path(path, "securityContext");
	if (p == NULL)
		return berth_error_set(err, ENOMEM, "path");
	if (int_at_least(sc, "runAsUser", p, 0, err) < 0 || int_at_least(sc, "runAsGroup", p, 0, err) < 0)
		return -1;
	json_t *seccomp = json_object_get(sc, "seccompProfile");
	if (json_is_object(seccomp)) {
		_cleanup_free_ char *sp = json_read_child_path(p, "seccompProfile");
		const char *type = str(seccomp, "type");
		if (type == NULL)
			return invalid(err, "%s.type: required", sp);
		if (enum_field(seccomp, "type", sp, seccomp_types, err) < 0)
			return -1;
		if ((strcmp(type, "Localhost") == 0) != has(seccomp, "localhostProfile"))
			return invalid(err, "%s.localhostProfile: required with type Localhost, and only then", sp);
	}
	json_t *priv = json_object_get(sc, "privileged"), *escalation = json_object_get(sc, "allowPrivilegeEscalation");
	if (json_is_true(priv) && json_is_false(escalation))
		return invalid(err, "%s: allowPrivilegeEscalation cannot be false when privileged is true", p);
	return 0;
}

static int validate_container(json_t *c, const char *path, bool init, json_t *volume_names, json_t *names,
			      berth_error **err)
{
	static const char *const pull_policies[] = { "Always", "IfNotPresent", "Never", NULL };
	static const char *const protocols[] = { "TCP", "UDP", NULL };
	static const char *const handlers[] = { "exec", "httpGet", "tcpSocket", "sleep", NULL };
	const char *name = str(c, "name");
	const char *image = str(c, "image");
	size_t i;
	json_t *item;

	if (name == NULL || name[0] == '\0')
		return invalid(err, "%s.name: required", path);
	if (!kube_is_dns1123_label(name))
		return invalid(err, "%s.name: \"%s\" is not a valid container name (a DNS-1123 label)", path, name);
	if (json_object_get(names, name) != NULL)
		return invalid(err, "%s.name: duplicate container name \"%s\"", path, name);
	json_object_set_new(names, name, json_true());
	if (image == NULL || image[0] == '\0')
		return invalid(err, "%s.image: required", path);
	if (enum_field(c, "imagePullPolicy", path, pull_policies, err) < 0)
		return -1;
	const char *restart = str(c, "restartPolicy");
	if (restart != NULL && (!init || strcmp(restart, "Always") != 0))
		return invalid(err, "%s.restartPolicy: only \"Always\" on an init container (a sidecar)", path);

	_cleanup_json_ json_t *port_names = json_object();
	FOREACH_ITEM(json_object_get(c, "ports"), i, item)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.ports[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		json_t *cp = json_object_get(item, "containerPort");
		if (!json_is_integer(cp))
			return invalid(err, "%s.containerPort: required", p);
		if (json_integer_value(cp) < 1 || json_integer_value(cp) > 65535)
			return invalid(err, "%s.containerPort: %lld is not a port (1-65535)", p,
				       (long long)json_integer_value(cp));
		json_t *hp = json_object_get(item, "hostPort");
		if (json_is_integer(hp) && (json_integer_value(hp) < 0 || json_integer_value(hp) > 65535))
			return invalid(err, "%s.hostPort: %lld is not a port (0-65535)", p,
				       (long long)json_integer_value(hp));
		if (has(item, "protocol") && strcmp(str(item, "protocol"), "SCTP") == 0)
			return berth_error_request(err, ENOTSUP, "%s.protocol: SCTP is not supported by berth", p);
		if (enum_field(item, "protocol", p, protocols, err) < 0)
			return -1;
		const char *pname = str(item, "name");
		if (pname != NULL) {
			if (!is_port_name(pname))
				return invalid(err,
					       "%s.name: \"%s\" is not a valid port name (at most 15 lowercase "
					       "letters, digits and '-')",
					       p, pname);
			if (json_object_get(port_names, pname) != NULL)
				return invalid(err, "%s.name: duplicate port name \"%s\"", p, pname);
			json_object_set_new(port_names, pname, json_true());
		}
	}
	if (validate_env(c, path, err) < 0 || validate_resources(c, path, err) < 0 ||
	    validate_security(json_object_get(c, "securityContext"), path, err) < 0)
		return -1;
	if (init && (has(c, "livenessProbe") || has(c, "readinessProbe") || has(c, "startupProbe")) && restart == NULL)
		return invalid(err, "%s: an init container may not have probes", path);
	if (validate_probe(c, "livenessProbe", path, err) < 0 || validate_probe(c, "readinessProbe", path, err) < 0 ||
	    validate_probe(c, "startupProbe", path, err) < 0)
		return -1;
	json_t *pre_stop = json_object_get(json_object_get(c, "lifecycle"), "preStop");
	if (json_is_object(pre_stop)) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.lifecycle.preStop", path) < 0 || validate_handler(pre_stop, p, handlers, err) < 0)
			return p ? -1 : berth_error_set(err, ENOMEM, "path");
	}

	_cleanup_json_ json_t *mount_paths = json_object();
	FOREACH_ITEM(json_object_get(c, "volumeMounts"), i, item)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.volumeMounts[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		const char *vname = str(item, "name"), *mpath = str(item, "mountPath"), *sub = str(item, "subPath");
		if (vname == NULL)
			return invalid(err, "%s.name: required", p);
		if (json_object_get(volume_names, vname) == NULL)
			return invalid(err, "%s.name: no volume \"%s\" in the pod's volumes", p, vname);
		if (mpath == NULL || mpath[0] != '/')
			return invalid(err, "%s.mountPath: required, an absolute path", p);
		if (json_object_get(mount_paths, mpath) != NULL)
			return invalid(err, "%s.mountPath: \"%s\" is mounted twice", p, mpath);
		json_object_set_new(mount_paths, mpath, json_true());
		if (sub != NULL &&
		    (sub[0] == '/' || strcmp(sub, "..") == 0 || strncmp(sub, "../", 3) == 0 ||
		     strstr(sub, "/../") != NULL || (strlen(sub) >= 3 && strcmp(sub + strlen(sub) - 3, "/..") == 0)))
			return invalid(err, "%s.subPath: \"%s\" must be a relative path without '..'", p, sub);
	}
	return 0;
}

/* ---- volumes */

static int validate_items(json_t *source, const char *path, berth_error **err)
{
	size_t i;
	json_t *item;
	FOREACH_ITEM(json_object_get(source, "items"), i, item)
	{
		const char *key = str(item, "key"), *p = str(item, "path");
		if (key == NULL || p == NULL)
			return invalid(err, "%s.items[%zu]: key and path are required", path, i);
		if (p[0] == '/' || strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 || strstr(p, "/../") != NULL)
			return invalid(err, "%s.items[%zu].path: \"%s\" must be a relative path without '..'", path, i,
				       p);
		if (int_at_least(item, "mode", path, 0, err) < 0)
			return -1;
	}
	json_t *mode = json_object_get(source, "defaultMode");
	if (json_is_integer(mode) && (json_integer_value(mode) < 0 || json_integer_value(mode) > 0777))
		return invalid(err, "%s.defaultMode: must be between 0 and 0777 (511)", path);
	return 0;
}

static int validate_volumes(json_t *spec, json_t *names, berth_error **err)
{
	static const char *const sources[] = { "emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim",
					       NULL };
	static const char *const host_path_types[] = {
		"",	      "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
		"CharDevice", "BlockDevice",	   NULL
	};
	static const char *const media[] = { "", "Memory", NULL };
	size_t i;
	json_t *v;
	FOREACH_ITEM(json_object_get(spec, "volumes"), i, v)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "spec.volumes[%zu]", i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		const char *name = str(v, "name");
		if (name == NULL || !kube_is_dns1123_label(name))
			return invalid(err, "%s.name: required, a DNS-1123 label", p);
		if (json_object_get(names, name) != NULL)
			return invalid(err, "%s.name: duplicate volume name \"%s\"", p, name);
		json_object_set_new(names, name, json_true());
		int n = count_present(v, sources);
		if (n > 1)
			return invalid(err, "%s: may have only one volume source", p);
		if (n == 0) /* Kubernetes' default */
			json_object_set_new(v, "emptyDir", json_object());
		json_t *hp = json_object_get(v, "hostPath");
		if (json_is_object(hp)) {
			_cleanup_free_ char *hpath = json_read_child_path(p, "hostPath");
			if (str(hp, "path") == NULL || str(hp, "path")[0] != '/')
				return invalid(err, "%s.path: required, an absolute path", hpath);
			if (enum_field(hp, "type", hpath, host_path_types, err) < 0)
				return -1;
		}
		json_t *ed = json_object_get(v, "emptyDir");
		if (json_is_object(ed)) {
			_cleanup_free_ char *epath = json_read_child_path(p, "emptyDir");
			if (enum_field(ed, "medium", epath, media, err) < 0)
				return -1;
			int64_t milli;
			if (has(ed, "sizeLimit") &&
			    kube_quantity_from_json(json_object_get(ed, "sizeLimit"), epath, &milli, err) < 0)
				return -1;
		}
		json_t *cm = json_object_get(v, "configMap"), *sec = json_object_get(v, "secret");
		json_t *pvc = json_object_get(v, "persistentVolumeClaim");
		if (json_is_object(cm) && (str(cm, "name") == NULL || validate_items(cm, p, err) < 0))
			return str(cm, "name") ? -1 : invalid(err, "%s.configMap.name: required", p);
		if (json_is_object(sec) && (str(sec, "secretName") == NULL || validate_items(sec, p, err) < 0))
			return str(sec, "secretName") ? -1 : invalid(err, "%s.secret.secretName: required", p);
		if (json_is_object(pvc) && str(pvc, "claimName") == NULL)
			return invalid(err, "%s.persistentVolumeClaim.claimName: required", p);
	}
	return 0;
}

/* ---- pods */

/* PATH is "spec" for a Pod, "spec.template.spec" for a template. */
static int validate_pod_spec(json_t *spec, const char *path, bool template, berth_error **err)
{
	static const char *const restart_policies[] = { "Always", "OnFailure", "Never", NULL };
	static const char *const dns_policies[] = { "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None",
						    NULL };
	_cleanup_json_ json_t *volume_names = json_object();
	_cleanup_json_ json_t *container_names = json_object();
	berth_error *inner = NULL;
	size_t i;
	json_t *c;

	if (!json_is_object(spec))
		return invalid(err, "%s: required", path);
	if (validate_volumes(spec, volume_names, &inner) < 0) {
		/* validate_volumes names paths from "spec": put the template's prefix in front */
		int r = berth_error_request(err, inner->code, "%s%s", template ? "spec.template." : "", inner->msg);
		berth_error_free(&inner);
		return r;
	}
	if (json_array_size(json_object_get(spec, "containers")) == 0)
		return invalid(err, "%s.containers: at least one container is required", path);
	FOREACH_ITEM(json_object_get(spec, "initContainers"), i, c)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.initContainers[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		if (validate_container(c, p, true, volume_names, container_names, err) < 0)
			return -1;
	}
	FOREACH_ITEM(json_object_get(spec, "containers"), i, c)
	{
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.containers[%zu]", path, i) < 0)
			return berth_error_set(err, ENOMEM, "path");
		if (validate_container(c, p, false, volume_names, container_names, err) < 0)
			return -1;
	}
	if (enum_field(spec, "restartPolicy", path, restart_policies, err) < 0 ||
	    enum_field(spec, "dnsPolicy", path, dns_policies, err) < 0 ||
	    int_at_least(spec, "terminationGracePeriodSeconds", path, 0, err) < 0 ||
	    int_at_least(spec, "activeDeadlineSeconds", path, 1, err) < 0 ||
	    validate_security(json_object_get(spec, "securityContext"), path, err) < 0)
		return -1;
	if (template && has(spec, "restartPolicy") && strcmp(str(spec, "restartPolicy"), "Always") != 0)
		return invalid(err, "%s.restartPolicy: must be \"Always\" in a Deployment", path);
	if (has(spec, "dnsPolicy") && strcmp(str(spec, "dnsPolicy"), "None") == 0 && !has(spec, "dnsConfig"))
		return invalid(err, "%s.dnsConfig: required with dnsPolicy None", path);
	if (has(spec, "hostname") && !kube_is_dns1123_label(str(spec, "hostname")))
		return invalid(err, "%s.hostname: \"%s\" is not a DNS-1123 label", path, str(spec, "hostname"));
	return 0;
}

int kube_validate_pod(json_t *pod, berth_error **err)
{
	if (require_metadata(pod, err) < 0)
		return -1;
	return validate_pod_spec(json_object_get(pod, "spec"), "spec", false, err);
}

/* ---- deployments */

static int validate_int_or_percent(json_t *obj, const char *key, const char *path, bool cap_100, int64_t *value,
				   bool *percent, berth_error **err)
{
	json_t *v = json_object_get(obj, key);
	*value = -1;
	*percent = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return invalid(err, "%s.%s: must be 0 or more", path, key);
		*value = json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	char *end = NULL;
	long n = strtol(s, &end, 10);
	if (end == s || strcmp(end, "%") != 0 || n < 0 || (cap_100 && n > 100))
		return invalid(err, "%s.%s: \"%s\" is neither an integer nor a percentage such as 25%%%s", path, key, s,
			       cap_100 ? " (at most 100%)" : "");
	*value = n;
	*percent = true;
	return 0;
}

int kube_validate_deployment(json_t *d, berth_error **err)
{
	static const char *const strategies[] = { "RollingUpdate", "Recreate", NULL };
	if (require_metadata(d, err) < 0)
		return -1;
	json_t *spec = json_object_get(d, "spec");
	if (!json_is_object(spec))
		return invalid(err, "spec: required");
	if (int_at_least(spec, "replicas", "spec", 0, err) < 0 ||
	    int_at_least(spec, "minReadySeconds", "spec", 0, err) < 0 ||
	    int_at_least(spec, "revisionHistoryLimit", "spec", 0, err) < 0 ||
	    int_at_least(spec, "progressDeadlineSeconds", "spec", 1, err) < 0)
		return -1;
	json_t *min_ready = json_object_get(spec, "minReadySeconds");
	json_t *deadline = json_object_get(spec, "progressDeadlineSeconds");
	if (json_is_integer(min_ready) && json_is_integer(deadline) &&
	    json_integer_value(deadline) <= json_integer_value(min_ready))
		return invalid(err, "spec.progressDeadlineSeconds: must be greater than minReadySeconds");

	json_t *selector = json_object_get(spec, "selector");
	if (!json_is_object(selector) || (json_object_size(json_object_get(selector, "matchLabels")) == 0 &&
					  json_array_size(json_object_get(selector, "matchExpressions")) == 0))
		return invalid(err, "spec.selector: required (matchLabels or matchExpressions)");
	if (validate_selector(selector, "spec.selector", err) < 0)
		return -1;
	json_t *template = json_object_get(spec, "template");
	if (!json_is_object(template))
		return invalid(err, "spec.template: required");
	json_t *labels = json_object_get(json_object_get(template, "metadata"), "labels");
	if (!kube_selector_matches(selector, labels))
		return invalid(err, "spec.template.metadata.labels: `selector` does not match template `labels`");
	if (validate_pod_spec(json_object_get(template, "spec"), "spec.template.spec", true, err) < 0)
		return -1;

	json_t *strategy = json_object_get(spec, "strategy");
	if (enum_field(strategy, "type", "spec.strategy", strategies, err) < 0)
		return -1;
	json_t *rolling = json_object_get(strategy, "rollingUpdate");
	const char *type = str(strategy, "type");
	if (type != NULL && strcmp(type, "Recreate") == 0 && has(strategy, "rollingUpdate"))
		return invalid(err, "spec.strategy.rollingUpdate: may not be set with type Recreate");
	int64_t surge, unavailable;
	bool surge_pct, unavailable_pct;
	if (validate_int_or_percent(rolling, "maxSurge", "spec.strategy.rollingUpdate", false, &surge, &surge_pct,
				    err) < 0 ||
	    validate_int_or_percent(rolling, "maxUnavailable", "spec.strategy.rollingUpdate", true, &unavailable,
				    &unavailable_pct, err) < 0)
		return -1;
	if (surge == 0 && unavailable == 0)
		return invalid(err, "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0");
	return 0;
}

/* ---- config */

static int validate_config_keys(json_t *obj, const char *section, bool base64, json_t *seen, berth_error **err)
{
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(obj, section), key, v) {
		if (!is_config_key(key))
			return invalid(err, "%s: \"%s\" is not a valid key (letters, digits, '-', '_' and '.')",
				       section, key);
		if (json_object_get(seen, key) != NULL)
			return invalid(err, "%s.%s: the key is set twice (data and %s)", section, key, section);
		json_object_set_new(seen, key, json_true());
		if (base64 && json_is_string(v)) {
			const char *s = json_string_value(v);
			size_t n = strlen(s);
			_cleanup_free_ unsigned char *buf = malloc(n + 1);
			if (buf == NULL)
				return berth_error_set(err, ENOMEM, "base64");
			if (n > 0 && b64_pton(s, buf, n + 1) < 0)
				return invalid(err, "%s.%s: not valid base64", section, key);
		}
	}
	return 0;
}

int kube_validate_configmap(json_t *cm, berth_error **err)
{
	_cleanup_json_ json_t *seen = json_object();
	if (require_metadata(cm, err) < 0 || validate_config_keys(cm, "data", false, seen, err) < 0 ||
	    validate_config_keys(cm, "binaryData", true, seen, err) < 0)
		return -1;
	return 0;
}

int kube_validate_secret(json_t *secret, berth_error **err)
{
	_cleanup_json_ json_t *seen = json_object();
	if (require_metadata(secret, err) < 0 || validate_config_keys(secret, "data", true, seen, err) < 0)
		return -1;
	/* stringData may repeat a data key: it wins, as in Kubernetes */
	_cleanup_json_ json_t *seen_string = json_object();
	return validate_config_keys(secret, "stringData", false, seen_string, err);
}

/* ---- shared with service_validate.c (kube_internal.h) */

bool kube_is_port_name(const char *s)
{
	return is_port_name(s);
}

bool kube_is_label(const char *key, const char *value)
{
	return is_qualified_name(key) && is_label_value(value);
}
