/* The HorizontalPodAutoscaler object: schema tables (autoscaling/v2 and
 * v1), the API server's rules, the v1 -> v2 conversion and the defaults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/hpa.h"
#include "kube/quantity.h"
#include "kube/schema_tables.h"
#include "kube/validate.h"
#include "util/cleanup.h"

#define invalid(err, ...) berth_error_request(err, EINVAL, __VA_ARGS__)

/* ---- schema */

static const char other_metrics[] = "berth measures the cpu and memory of pods: use a Resource metric";

static const kube_field cross_version_ref[] = {
	F("apiVersion", KT_STRING),
	F("kind", KT_STRING),
	F("name", KT_STRING),
	END,
};

static const kube_field metric_target[] = {
	F("type", KT_STRING),
	F("averageUtilization", KT_INT),
	F("averageValue", KT_QUANTITY),
	F("value", KT_QUANTITY),
	END,
};

static const kube_field resource_metric[] = {
	F("name", KT_STRING),
	OBJ("target", metric_target),
	END,
};

static const kube_field metric_spec[] = {
	F("type", KT_STRING),
	OBJ("resource", resource_metric),
	REFUSED("pods", KT_OBJECT, other_metrics),
	REFUSED("object", KT_OBJECT, other_metrics),
	REFUSED("external", KT_OBJECT, other_metrics),
	REFUSED("containerResource", KT_OBJECT, "not yet: use a Resource metric (the sum of the pod's containers)"),
	END,
};

static const kube_field scaling_policy[] = {
	F("type", KT_STRING),
	F("value", KT_INT),
	F("periodSeconds", KT_INT),
	END,
};

static const kube_field scaling_rules[] = {
	F("stabilizationWindowSeconds", KT_INT),
	F("selectPolicy", KT_STRING),
	LIST_OF("policies", scaling_policy),
	REFUSED("tolerance", KT_QUANTITY, "not yet: the tolerance is 10%"),
	END,
};

static const kube_field hpa_behavior[] = {
	OBJ("scaleUp", scaling_rules),
	OBJ("scaleDown", scaling_rules),
	END,
};

const kube_field kube_schema_hpa_spec_v2[] = {
	OBJ("scaleTargetRef", cross_version_ref), F("minReplicas", KT_INT),	 F("maxReplicas", KT_INT),
	LIST_OF("metrics", metric_spec),	  OBJ("behavior", hpa_behavior), END,
};

const kube_field kube_schema_hpa_spec_v1[] = {
	OBJ("scaleTargetRef", cross_version_ref),
	F("minReplicas", KT_INT),
	F("maxReplicas", KT_INT),
	F("targetCPUUtilizationPercentage", KT_INT),
	END,
};

/* ---- rules */

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* autoscaling/v1 -> v2, in place: what the API server serves as v2. */
static void convert_v1(json_t *hpa)
{
	json_t *spec = json_object_get(hpa, "spec");
	json_t *pct = json_object_get(spec, "targetCPUUtilizationPercentage");

	json_object_set_new(hpa, "apiVersion", json_string("autoscaling/v2"));
	if (!json_is_object(spec))
		return;
	if (json_is_integer(pct))
		json_object_set_new(spec, "metrics",
				    json_pack("[{s:s, s:{s:s, s:{s:s, s:O}}}]", "type", "Resource", "resource", "name",
					      "cpu", "target", "type", "Utilization", "averageUtilization", pct));
	json_object_del(spec, "targetCPUUtilizationPercentage");
}

static int validate_target(json_t *target, const char *path, berth_error **err)
{
	static const char *const types[] = { "Utilization", "Value", "AverageValue" };
	const char *type = str(target, "type");
	json_t *util = json_object_get(target, "averageUtilization");
	json_t *avg = json_object_get(target, "averageValue"), *value = json_object_get(target, "value");
	bool known = false;
	int64_t q;

	if (!json_is_object(target))
		return invalid(err, "%s.target: required", path);
	if (type == NULL)
		return invalid(err, "%s.target.type: must specify a metric target type", path);
	for (size_t i = 0; i < 3; i++)
		known = known || strcmp(type, types[i]) == 0;
	if (!known)
		return invalid(err,
			       "%s.target.type: Invalid value: \"%s\": must be either Utilization, Value, or "
			       "AverageValue",
			       path, type);
	if (json_is_integer(util) && json_integer_value(util) < 1)
		return invalid(err, "%s.target.averageUtilization: must be greater than 0", path);
	if (avg != NULL && !json_is_null(avg)) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s.target.averageValue", path) < 0)
			return berth_error_set(err, ENOMEM, "path");
		if (kube_quantity_from_json(avg, p, &q, err) < 0)
			return -1;
		if (q <= 0)
			return invalid(err, "%s: must be positive", p);
	}
	if (value != NULL && !json_is_null(value))
		return invalid(err, "%s.target.value: a Resource metric takes averageUtilization or averageValue",
			       path);
	if (util == NULL && (avg == NULL || json_is_null(avg)))
		return invalid(err,
			       "%s.target.averageUtilization: must set either a target raw value or a target "
			       "utilization",
			       path);
	if (util != NULL && avg != NULL && !json_is_null(avg))
		return invalid(err,
			       "%s.target.averageValue: may not set both a target raw value and a target "
			       "utilization",
			       path);
	return 0;
}

static int validate_metric(json_t *m, size_t i, berth_error **err)
{
	static const char *const elsewhere[] = { "Pods", "Object", "External", "ContainerResource" };
	const char *type = str(m, "type"), *name;
	json_t *resource = json_object_get(m, "resource");
	char path[64];

	snprintf(path, sizeof(path), "spec.metrics[%zu]", i);
	if (type == NULL)
		return invalid(err, "%s.type: must specify a metric source type", path);
	for (size_t k = 0; k < 4; k++)
		if (strcmp(type, elsewhere[k]) == 0)
			return berth_error_request(err, ENOTSUP, "%s.type: %s metrics are not supported by berth (%s)",
						   path, type, other_metrics);
	if (strcmp(type, "Resource") != 0)
		return invalid(err,
			       "%s.type: Unsupported value: \"%s\": supported values: \"ContainerResource\", "
			       "\"External\", \"Object\", \"Pods\", \"Resource\"",
			       path, type);
	if (!json_is_object(resource))
		return invalid(err, "%s.resource: must populate information for the given metric source", path);
	name = str(resource, "name");
	if (name == NULL || name[0] == '\0')
		return invalid(err, "%s.resource.name: must specify a resource name", path);
	if (strcmp(name, "cpu") != 0 && strcmp(name, "memory") != 0)
		return berth_error_request(err, ENOTSUP,
					   "%s.resource.name: \"%s\" is not supported by berth (cpu or "
					   "memory)",
					   path, name);
	snprintf(path, sizeof(path), "spec.metrics[%zu].resource", i);
	return validate_target(json_object_get(resource, "target"), path, err);
}

static int validate_rules(json_t *rules, const char *path, berth_error **err)
{
	static const char *const selects[] = { "Max", "Min", "Disabled" };
	json_t *window = json_object_get(rules, "stabilizationWindowSeconds");
	json_t *policies = json_object_get(rules, "policies"), *p;
	const char *select = str(rules, "selectPolicy");
	size_t i;

	if (rules == NULL || json_is_null(rules))
		return 0;
	if (json_is_integer(window) && json_integer_value(window) < 0)
		return invalid(err, "%s.stabilizationWindowSeconds: must be greater than or equal to zero", path);
	if (json_is_integer(window) && json_integer_value(window) > 3600)
		return invalid(err, "%s.stabilizationWindowSeconds: must be less than or equal to 3600", path);
	if (select != NULL) {
		bool known = false;
		for (size_t k = 0; k < 3; k++)
			known = known || strcmp(select, selects[k]) == 0;
		if (!known)
			return invalid(err,
				       "%s.selectPolicy: Unsupported value: \"%s\": supported values: \"Disabled\", "
				       "\"Max\", \"Min\"",
				       path, select);
	}
	if (policies != NULL && json_array_size(policies) == 0)
		return invalid(err, "%s.policies: must specify at least one Policy", path);
	if (json_array_size(policies) > KUBE_HPA_MAX_POLICIES)
		return invalid(err, "%s.policies: at most %d policies", path, KUBE_HPA_MAX_POLICIES);
	json_array_foreach(policies, i, p) {
		const char *type = str(p, "type");
		json_t *value = json_object_get(p, "value"), *period = json_object_get(p, "periodSeconds");
		if (type == NULL || (strcmp(type, "Pods") != 0 && strcmp(type, "Percent") != 0))
			return invalid(err,
				       "%s.policies[%zu].type: Unsupported value: \"%s\": supported values: "
				       "\"Percent\", \"Pods\"",
				       path, i, type ? type : "");
		if (!json_is_integer(value) || json_integer_value(value) <= 0)
			return invalid(err, "%s.policies[%zu].value: must be greater than zero", path, i);
		if (!json_is_integer(period) || json_integer_value(period) <= 0)
			return invalid(err, "%s.policies[%zu].periodSeconds: must be greater than zero", path, i);
		if (json_integer_value(period) > 1800)
			return invalid(err, "%s.policies[%zu].periodSeconds: must be less than or equal to 1800", path,
				       i);
	}
	return 0;
}

static int validate_sync_annotation(json_t *hpa, berth_error **err)
{
	const char *v = str(json_object_get(json_object_get(hpa, "metadata"), "annotations"), KUBE_HPA_SYNC_ANNOTATION);
	char *end;
	long n;

	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n < 1 || n > 3600)
		return invalid(err, "metadata.annotations.%s: a number of seconds from 1 to 3600",
			       KUBE_HPA_SYNC_ANNOTATION);
	return 0;
}

int kube_validate_hpa(json_t *hpa, berth_error **err)
{
	json_t *spec, *ref, *min, *max, *m, *behavior;
	size_t i;

	if (strcmp(str(hpa, "apiVersion") ?: "", "autoscaling/v1") == 0)
		convert_v1(hpa);
	if (kube_validate_object_metadata(hpa, err) < 0 || validate_sync_annotation(hpa, err) < 0)
		return -1;
	spec = json_object_get(hpa, "spec");
	if (!json_is_object(spec))
		return invalid(err, "spec: required");
	ref = json_object_get(spec, "scaleTargetRef");
	if (!json_is_object(ref))
		return invalid(err, "spec.scaleTargetRef: required");
	if (str(ref, "kind") == NULL || str(ref, "kind")[0] == '\0')
		return invalid(err, "spec.scaleTargetRef.kind: must specify a kind");
	if (str(ref, "name") == NULL || str(ref, "name")[0] == '\0')
		return invalid(err, "spec.scaleTargetRef.name: must specify a name");
	if (!kube_is_dns1123_subdomain(str(ref, "name")))
		return invalid(err, "spec.scaleTargetRef.name: Invalid value: \"%s\": a lowercase RFC 1123 subdomain",
			       str(ref, "name"));
	if (strcmp(str(ref, "kind"), "Deployment") != 0)
		return berth_error_request(err, ENOTSUP, "spec.scaleTargetRef.kind: berth scales Deployments, not %s",
					   str(ref, "kind"));
	if (str(ref, "apiVersion") && strcmp(str(ref, "apiVersion"), "apps/v1") != 0)
		return invalid(err, "spec.scaleTargetRef.apiVersion: a Deployment is apps/v1, not %s",
			       str(ref, "apiVersion"));
	min = json_object_get(spec, "minReplicas");
	max = json_object_get(spec, "maxReplicas");
	if (json_is_integer(min) && json_integer_value(min) < 1)
		return invalid(err, "spec.minReplicas: must be greater than or equal to 1");
	if (!json_is_integer(max))
		return invalid(err, "spec.maxReplicas: required");
	if (json_integer_value(max) < 1)
		return invalid(err, "spec.maxReplicas: must be greater than 0");
	if (json_integer_value(max) < (json_is_integer(min) ? json_integer_value(min) : 1))
		return invalid(err, "spec.maxReplicas: must be greater than or equal to `minReplicas`");
	if (json_integer_value(max) > 10000)
		return invalid(err, "spec.maxReplicas: at most 10000 on one host");
	if (json_array_size(json_object_get(spec, "metrics")) > KUBE_HPA_MAX_METRICS)
		return invalid(err, "spec.metrics: at most %d metrics", KUBE_HPA_MAX_METRICS);
	json_array_foreach(json_object_get(spec, "metrics"), i, m)
		if (validate_metric(m, i, err) < 0)
			return -1;
	behavior = json_object_get(spec, "behavior");
	if (validate_rules(json_object_get(behavior, "scaleUp"), "spec.behavior.scaleUp", err) < 0 ||
	    validate_rules(json_object_get(behavior, "scaleDown"), "spec.behavior.scaleDown", err) < 0)
		return -1;
	return 0;
}

/* ---- defaults */

static void read_rules(json_t *rules, bool up, kube_hpa_rules *out)
{
	json_t *window = json_object_get(rules, "stabilizationWindowSeconds");
	json_t *policies = json_object_get(rules, "policies"), *p;
	const char *select = str(rules, "selectPolicy");
	size_t i;

	memset(out, 0, sizeof(*out));
	out->window_s = json_is_integer(window) ? (int)json_integer_value(window) : up ? 0 : KUBE_HPA_DOWN_WINDOW_S;
	out->select = select == NULL			? KUBE_HPA_SELECT_MAX
		      : strcmp(select, "Min") == 0	? KUBE_HPA_SELECT_MIN
		      : strcmp(select, "Disabled") == 0 ? KUBE_HPA_SELECT_DISABLED
							: KUBE_HPA_SELECT_MAX;
	if (!json_is_array(policies)) {
		/* Kubernetes' defaults: up 4 pods or 100% per 15 s, down 100% per 15 s */
		if (up)
			out->policies[out->n_policies++] = (kube_hpa_policy){ KUBE_HPA_PODS, 4, 15 };
		out->policies[out->n_policies++] = (kube_hpa_policy){ KUBE_HPA_PERCENT, 100, 15 };
		return;
	}
	json_array_foreach(policies, i, p) {
		if (out->n_policies == KUBE_HPA_MAX_POLICIES)
			break;
		out->policies[out->n_policies++] = (kube_hpa_policy){
			strcmp(str(p, "type") ?: "", "Pods") == 0 ? KUBE_HPA_PODS : KUBE_HPA_PERCENT,
			(int)json_integer_value(json_object_get(p, "value")),
			(int)json_integer_value(json_object_get(p, "periodSeconds")),
		};
	}
}

int kube_hpa_spec_read(json_t *hpa, kube_hpa_spec *out, berth_error **err)
{
	json_t *spec = json_object_get(hpa, "spec"), *m;
	json_t *min = json_object_get(spec, "minReplicas"), *behavior = json_object_get(spec, "behavior");
	size_t i;

	memset(out, 0, sizeof(*out));
	snprintf(out->target, sizeof(out->target), "%s", str(json_object_get(spec, "scaleTargetRef"), "name") ?: "");
	out->min_replicas = json_is_integer(min) ? (int)json_integer_value(min) : 1;
	out->max_replicas = (int)json_integer_value(json_object_get(spec, "maxReplicas"));
	json_array_foreach(json_object_get(spec, "metrics"), i, m) {
		json_t *resource = json_object_get(m, "resource"), *target = json_object_get(resource, "target");
		json_t *avg = json_object_get(target, "averageValue");
		kube_hpa_metric *metric = &out->metrics[out->n_metrics];
		if (out->n_metrics == KUBE_HPA_MAX_METRICS)
			break;
		metric->resource = strcmp(str(resource, "name") ?: "", "memory") == 0 ? KUBE_HPA_MEMORY : KUBE_HPA_CPU;
		metric->utilization = avg == NULL || json_is_null(avg);
		if (metric->utilization) {
			metric->target_percent = (int)json_integer_value(json_object_get(target, "averageUtilization"));
		} else {
			int64_t milli;
			if (kube_quantity_from_json(avg, "averageValue", &milli, err) < 0)
				return -1;
			/* cpu in millicores; memory in bytes */
			metric->target_value = metric->resource == KUBE_HPA_CPU ? milli : (milli + 999) / 1000;
		}
		out->n_metrics++;
	}
	if (out->n_metrics == 0)
		out->metrics[out->n_metrics++] = (kube_hpa_metric){ KUBE_HPA_CPU, true, KUBE_HPA_DEFAULT_UTIL, 0 };
	read_rules(json_object_get(behavior, "scaleUp"), true, &out->up);
	read_rules(json_object_get(behavior, "scaleDown"), false, &out->down);
	return 0;
}
