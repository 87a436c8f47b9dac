#include "kube/schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/schema_tables.h"
#include "spec/json_read.h"
#include "util/cleanup.h"

static const char one_host[] = "berth runs every pod on this host";

/* ---- meta/v1 */

static const kube_field object_meta[] = {
	F("name", KT_STRING),
	REFUSED("generateName", KT_STRING, "give each object a name"),
	F("namespace", KT_STRING),
	F("labels", KT_STRING_MAP),
	F("annotations", KT_STRING_MAP),
	/* written by clusters; kept out of the way when a manifest was exported */
	IGNORED("uid", KT_STRING, "set by the server"),
	IGNORED("resourceVersion", KT_STRING, "set by the server"),
	IGNORED("generation", KT_INT, "set by the server"),
	IGNORED("creationTimestamp", KT_ANY, "set by the server"),
	IGNORED("deletionTimestamp", KT_ANY, "set by the server"),
	IGNORED("deletionGracePeriodSeconds", KT_INT, "set by the server"),
	IGNORED("selfLink", KT_STRING, "set by the server"),
	IGNORED("managedFields", KT_ANY, "set by the server"),
	IGNORED("ownerReferences", KT_LIST, "set by controllers"),
	IGNORED("finalizers", KT_LIST, "no garbage collector on one host"),
	END,
};

static const kube_field label_requirement[] = {
	F("key", KT_STRING),
	F("operator", KT_STRING),
	LIST("values", KT_STRING),
	END,
};

static const kube_field label_selector[] = {
	F("matchLabels", KT_STRING_MAP),
	LIST_OF("matchExpressions", label_requirement),
	END,
};

/* ---- core/v1: the container */

static const kube_field key_selector[] = {
	F("name", KT_STRING),
	F("key", KT_STRING),
	F("optional", KT_BOOL),
	END,
};

static const kube_field field_selector[] = {
	F("apiVersion", KT_STRING),
	F("fieldPath", KT_STRING),
	END,
};

static const kube_field resource_field_selector[] = {
	F("containerName", KT_STRING),
	F("resource", KT_STRING),
	F("divisor", KT_QUANTITY),
	END,
};

static const kube_field env_var_source[] = {
	OBJ("configMapKeyRef", key_selector),
	OBJ("secretKeyRef", key_selector),
	OBJ("fieldRef", field_selector),
	OBJ("resourceFieldRef", resource_field_selector),
	END,
};

static const kube_field env_var[] = {
	F("name", KT_STRING),
	F("value", KT_STRING),
	OBJ("valueFrom", env_var_source),
	END,
};

static const kube_field env_from_ref[] = {
	F("name", KT_STRING),
	F("optional", KT_BOOL),
	END,
};

static const kube_field env_from_source[] = {
	F("prefix", KT_STRING),
	OBJ("configMapRef", env_from_ref),
	OBJ("secretRef", env_from_ref),
	END,
};

static const kube_field container_port[] = {
	F("name", KT_STRING),	  F("containerPort", KT_INT), F("hostPort", KT_INT),
	F("protocol", KT_STRING), F("hostIP", KT_STRING),     END,
};

static const kube_field resource_requirements[] = {
	{ .name = "limits", .type = KT_OBJECT, .fields = NULL },
	{ .name = "requests", .type = KT_OBJECT, .fields = NULL },
	REFUSED("claims", KT_LIST, "dynamic resource allocation"),
	END,
};

static const kube_field capabilities[] = {
	LIST("add", KT_STRING),
	LIST("drop", KT_STRING),
	END,
};

static const kube_field seccomp_profile[] = {
	F("type", KT_STRING),
	F("localhostProfile", KT_STRING),
	END,
};

static const kube_field security_context[] = {
	F("runAsUser", KT_INT),
	F("runAsGroup", KT_INT),
	F("runAsNonRoot", KT_BOOL),
	F("readOnlyRootFilesystem", KT_BOOL),
	OBJ("capabilities", capabilities),
	F("privileged", KT_BOOL),
	F("allowPrivilegeEscalation", KT_BOOL),
	OBJ("seccompProfile", seccomp_profile),
	IGNORED("procMount", KT_STRING, "the default /proc masking applies"),
	REFUSED("seLinuxOptions", KT_OBJECT, "no SELinux support"),
	REFUSED("appArmorProfile", KT_OBJECT, "no AppArmor support"),
	REFUSED("windowsOptions", KT_OBJECT, "Linux containers only"),
	END,
};

static const kube_field exec_action[] = {
	LIST("command", KT_STRING),
	END,
};

static const kube_field http_header[] = {
	F("name", KT_STRING),
	F("value", KT_STRING),
	END,
};

static const kube_field http_get_action[] = {
	F("path", KT_STRING),	F("port", KT_INT_OR_STRING),	     F("host", KT_STRING),
	F("scheme", KT_STRING), LIST_OF("httpHeaders", http_header), END,
};

static const kube_field tcp_socket_action[] = {
	F("port", KT_INT_OR_STRING),
	F("host", KT_STRING),
	END,
};

static const kube_field grpc_action[] = {
	F("port", KT_INT),
	F("service", KT_STRING),
	END,
};

static const kube_field probe[] = {
	OBJ("exec", exec_action),
	OBJ("httpGet", http_get_action),
	OBJ("tcpSocket", tcp_socket_action),
	{ .name = "grpc",
	  .type = KT_OBJECT,
	  .fields = grpc_action,
	  .support = KS_UNSUPPORTED,
	  .note = "use an exec, httpGet or tcpSocket probe" },
	F("initialDelaySeconds", KT_INT),
	F("timeoutSeconds", KT_INT),
	F("periodSeconds", KT_INT),
	F("successThreshold", KT_INT),
	F("failureThreshold", KT_INT),
	F("terminationGracePeriodSeconds", KT_INT),
	END,
};

static const kube_field sleep_action[] = {
	F("seconds", KT_INT),
	END,
};

static const kube_field lifecycle_handler[] = {
	OBJ("exec", exec_action),
	{ .name = "httpGet",
	  .type = KT_OBJECT,
	  .fields = http_get_action,
	  .support = KS_UNSUPPORTED,
	  .note = "use an exec hook" },
	{ .name = "tcpSocket",
	  .type = KT_OBJECT,
	  .fields = tcp_socket_action,
	  .support = KS_UNSUPPORTED,
	  .note = "use an exec hook" },
	OBJ("sleep", sleep_action),
	END,
};

static const kube_field lifecycle[] = {
	OBJ("preStop", lifecycle_handler),
	{ .name = "postStart",
	  .type = KT_OBJECT,
	  .fields = lifecycle_handler,
	  .support = KS_UNSUPPORTED,
	  .note = "not yet: use a preStop hook or the command" },
	REFUSED("stopSignal", KT_STRING, "not yet"),
	END,
};

static const kube_field volume_mount[] = {
	F("name", KT_STRING),
	F("mountPath", KT_STRING),
	F("subPath", KT_STRING),
	F("readOnly", KT_BOOL),
	REFUSED("subPathExpr", KT_STRING, "use subPath"),
	REFUSED("mountPropagation", KT_STRING, "mounts are private"),
	REFUSED("recursiveReadOnly", KT_STRING, "not yet"),
	END,
};

static const kube_field container[] = {
	F("name", KT_STRING),
	F("image", KT_STRING),
	LIST("command", KT_STRING),
	LIST("args", KT_STRING),
	F("workingDir", KT_STRING),
	LIST_OF("env", env_var),
	LIST_OF("envFrom", env_from_source),
	LIST_OF("ports", container_port),
	OBJ("resources", resource_requirements),
	OBJ("securityContext", security_context),
	OBJ("livenessProbe", probe),
	OBJ("readinessProbe", probe),
	OBJ("startupProbe", probe),
	OBJ("lifecycle", lifecycle),
	LIST_OF("volumeMounts", volume_mount),
	F("imagePullPolicy", KT_STRING),
	F("stdin", KT_BOOL),
	F("stdinOnce", KT_BOOL),
	F("tty", KT_BOOL),
	IGNORED("terminationMessagePath", KT_STRING, "berth keeps no termination message; see `berth kube logs`"),
	IGNORED("terminationMessagePolicy", KT_STRING, "berth keeps no termination message; see `berth kube logs`"),
	F("restartPolicy", KT_STRING), /* init containers: "Always" makes a sidecar */
	REFUSED("volumeDevices", KT_LIST, "no block volumes"),
	REFUSED("resizePolicy", KT_LIST, "not yet"),
	END,
};

/* ---- core/v1: volumes */

static const kube_field key_to_path[] = {
	F("key", KT_STRING),
	F("path", KT_STRING),
	F("mode", KT_INT),
	END,
};

static const kube_field empty_dir[] = {
	F("medium", KT_STRING),
	IGNORED("sizeLimit", KT_QUANTITY, "an emptyDir is a directory of the store, not limited in size"),
	END,
};

static const kube_field host_path[] = {
	F("path", KT_STRING),
	F("type", KT_STRING),
	END,
};

static const kube_field config_map_volume[] = {
	F("name", KT_STRING), LIST_OF("items", key_to_path), F("defaultMode", KT_INT), F("optional", KT_BOOL), END,
};

static const kube_field secret_volume[] = {
	F("secretName", KT_STRING),
	LIST_OF("items", key_to_path),
	F("defaultMode", KT_INT),
	F("optional", KT_BOOL),
	END,
};

static const kube_field pvc_volume[] = {
	F("claimName", KT_STRING),
	F("readOnly", KT_BOOL),
	END,
};

static const char no_volume_plugin[] = "no such volume plugin on one host: use hostPath, emptyDir or a "
				       "persistentVolumeClaim";

static const kube_field volume[] = {
	F("name", KT_STRING),
	OBJ("emptyDir", empty_dir),
	OBJ("hostPath", host_path),
	OBJ("configMap", config_map_volume),
	OBJ("secret", secret_volume),
	OBJ("persistentVolumeClaim", pvc_volume),
	REFUSED("projected", KT_OBJECT, "not yet: use configMap and secret volumes"),
	REFUSED("downwardAPI", KT_OBJECT, "not yet: use env with fieldRef"),
	REFUSED("nfs", KT_OBJECT, no_volume_plugin),
	REFUSED("iscsi", KT_OBJECT, no_volume_plugin),
	REFUSED("csi", KT_OBJECT, no_volume_plugin),
	REFUSED("ephemeral", KT_OBJECT, no_volume_plugin),
	REFUSED("image", KT_OBJECT, "not yet"),
	REFUSED("awsElasticBlockStore", KT_OBJECT, no_volume_plugin),
	REFUSED("gcePersistentDisk", KT_OBJECT, no_volume_plugin),
	REFUSED("azureDisk", KT_OBJECT, no_volume_plugin),
	REFUSED("azureFile", KT_OBJECT, no_volume_plugin),
	REFUSED("cephfs", KT_OBJECT, no_volume_plugin),
	REFUSED("rbd", KT_OBJECT, no_volume_plugin),
	REFUSED("fc", KT_OBJECT, no_volume_plugin),
	REFUSED("glusterfs", KT_OBJECT, no_volume_plugin),
	END,
};

/* ---- core/v1: the pod */

static const kube_field pod_security_context[] = {
	F("runAsUser", KT_INT),
	F("runAsGroup", KT_INT),
	F("runAsNonRoot", KT_BOOL),
	REFUSED("supplementalGroups", KT_LIST, "not yet: the engine sets one user and group"),
	F("fsGroup", KT_INT),
	OBJ("seccompProfile", seccomp_profile),
	IGNORED("fsGroupChangePolicy", KT_STRING, "fsGroup is applied to emptyDir volumes only"),
	REFUSED("sysctls", KT_LIST, "not yet: the engine sets no sysctls"),
	REFUSED("seLinuxOptions", KT_OBJECT, "no SELinux support"),
	REFUSED("appArmorProfile", KT_OBJECT, "no AppArmor support"),
	REFUSED("windowsOptions", KT_OBJECT, "Linux containers only"),
	REFUSED("supplementalGroupsPolicy", KT_STRING, "not yet"),
	REFUSED("seLinuxChangePolicy", KT_STRING, "no SELinux support"),
	END,
};

static const kube_field host_alias[] = {
	F("ip", KT_STRING),
	LIST("hostnames", KT_STRING),
	END,
};

static const kube_field pod_dns_config[] = {
	LIST("nameservers", KT_STRING),
	LIST("searches", KT_STRING),
	LIST("options", KT_ANY),
	END,
};

static const kube_field pod_spec[] = {
	LIST_OF("containers", container),
	LIST_OF("initContainers", container),
	F("restartPolicy", KT_STRING),
	F("terminationGracePeriodSeconds", KT_INT),
	F("activeDeadlineSeconds", KT_INT),
	LIST_OF("volumes", volume),
	OBJ("securityContext", pod_security_context),
	F("hostname", KT_STRING),
	IGNORED("subdomain", KT_STRING, "no cluster DNS on one host"),
	LIST_OF("hostAliases", host_alias),
	F("hostNetwork", KT_BOOL),
	F("hostPID", KT_BOOL),
	F("hostIPC", KT_BOOL),
	F("shareProcessNamespace", KT_BOOL),
	IGNORED("dnsPolicy", KT_STRING, "pods use the host's resolvers (or dnsConfig.nameservers); no cluster DNS"),
	OBJ("dnsConfig", pod_dns_config),
	F("enableServiceLinks", KT_BOOL),
	IGNORED("nodeSelector", KT_STRING_MAP, one_host),
	IGNORED("nodeName", KT_STRING, one_host),
	IGNORED("affinity", KT_ANY, one_host),
	IGNORED("tolerations", KT_LIST, one_host),
	IGNORED("topologySpreadConstraints", KT_LIST, one_host),
	IGNORED("schedulerName", KT_STRING, one_host),
	IGNORED("priorityClassName", KT_STRING, "no preemption on one host"),
	IGNORED("priority", KT_INT, "no preemption on one host"),
	IGNORED("preemptionPolicy", KT_STRING, "no preemption on one host"),
	IGNORED("serviceAccountName", KT_STRING, "no API server to reach from the pod"),
	IGNORED("serviceAccount", KT_STRING, "no API server to reach from the pod"),
	IGNORED("automountServiceAccountToken", KT_BOOL, "no API server to reach from the pod"),
	IGNORED("imagePullSecrets", KT_LIST, "berth uses the credentials of `berth login`"),
	IGNORED("readinessGates", KT_LIST, "readiness comes from the probes"),
	IGNORED("runtimeClassName", KT_STRING, "berth is the runtime"),
	REFUSED("ephemeralContainers", KT_LIST, "use `berth kube exec`"),
	REFUSED("overhead", KT_OBJECT, "set by the runtime class"),
	REFUSED("os", KT_OBJECT, "Linux only"),
	REFUSED("hostUsers", KT_BOOL, "not yet"),
	REFUSED("schedulingGates", KT_LIST, one_host),
	REFUSED("resourceClaims", KT_LIST, "dynamic resource allocation"),
	REFUSED("setHostnameAsFQDN", KT_BOOL, "not yet"),
	REFUSED("resources", KT_OBJECT, "pod-level resources: set them per container"),
	END,
};

static const kube_field pod_template_spec[] = {
	OBJ("metadata", object_meta),
	OBJ("spec", pod_spec),
	END,
};

/* ---- apps/v1: the deployment */

static const kube_field rolling_update[] = {
	F("maxSurge", KT_INT_OR_STRING),
	F("maxUnavailable", KT_INT_OR_STRING),
	END,
};

static const kube_field deployment_strategy[] = {
	F("type", KT_STRING),
	OBJ("rollingUpdate", rolling_update),
	END,
};

static const kube_field deployment_spec[] = {
	F("replicas", KT_INT),
	OBJ("selector", label_selector),
	OBJ("template", pod_template_spec),
	OBJ("strategy", deployment_strategy),
	F("minReadySeconds", KT_INT),
	F("revisionHistoryLimit", KT_INT),
	IGNORED("progressDeadlineSeconds", KT_INT, "use `berth kube rollout status --timeout`"),
	F("paused", KT_BOOL),
	END,
};

/* ---- the top levels */

#define TYPE_META F("apiVersion", KT_STRING), F("kind", KT_STRING)

const kube_field kube_schema_pod[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	OBJ("spec", pod_spec),
	IGNORED("status", KT_ANY, "status is berth's to report"),
	END,
};

const kube_field kube_schema_deployment[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	OBJ("spec", deployment_spec),
	IGNORED("status", KT_ANY, "status is berth's to report"),
	END,
};

const kube_field kube_schema_configmap[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	F("data", KT_STRING_MAP),
	F("binaryData", KT_STRING_MAP),
	F("immutable", KT_BOOL),
	END,
};

const kube_field kube_schema_secret[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	F("data", KT_STRING_MAP),
	F("stringData", KT_STRING_MAP),
	F("type", KT_STRING),
	F("immutable", KT_BOOL),
	END,
};

/* ---- core/v1 Service and Endpoints */

static const char ipv4_only[] = "berth's services are IPv4 only";

static const kube_field service_port[] = {
	F("name", KT_STRING),
	F("protocol", KT_STRING),
	IGNORED("appProtocol", KT_STRING, "no proxy reads it: traffic is forwarded as it comes"),
	F("port", KT_INT),
	F("targetPort", KT_INT_OR_STRING),
	F("nodePort", KT_INT),
	END,
};

static const kube_field client_ip_config[] = {
	F("timeoutSeconds", KT_INT),
	END,
};

static const kube_field session_affinity_config[] = {
	OBJ("clientIP", client_ip_config),
	END,
};

static const kube_field service_spec[] = {
	LIST_OF("ports", service_port),
	F("selector", KT_STRING_MAP),
	F("clusterIP", KT_STRING),
	LIST("clusterIPs", KT_STRING),
	F("type", KT_STRING),
	F("sessionAffinity", KT_STRING),
	OBJ("sessionAffinityConfig", session_affinity_config),
	F("publishNotReadyAddresses", KT_BOOL),
	REFUSED("externalName", KT_STRING, "type ExternalName needs a DNS server; berth has hosts files"),
	REFUSED("externalIPs", KT_LIST, "publish with type NodePort or LoadBalancer"),
	REFUSED("loadBalancerSourceRanges", KT_LIST, "no load balancer filters sources on one host"),
	IGNORED("loadBalancerIP", KT_STRING, "a LoadBalancer is published on the host's node ports"),
	IGNORED("loadBalancerClass", KT_STRING, "a LoadBalancer is published on the host's node ports"),
	IGNORED("allocateLoadBalancerNodePorts", KT_BOOL, "a LoadBalancer always gets node ports"),
	IGNORED("externalTrafficPolicy", KT_STRING, "every endpoint is local on one host"),
	IGNORED("internalTrafficPolicy", KT_STRING, "every endpoint is local on one host"),
	IGNORED("healthCheckNodePort", KT_INT, "every endpoint is local on one host"),
	IGNORED("trafficDistribution", KT_STRING, "every endpoint is local on one host"),
	IGNORED("ipFamilies", KT_LIST, ipv4_only),
	IGNORED("ipFamilyPolicy", KT_STRING, ipv4_only),
	END,
};

static const kube_field endpoint_address[] = {
	F("ip", KT_STRING),
	IGNORED("hostname", KT_STRING, "names come from the service"),
	IGNORED("nodeName", KT_STRING, one_host),
	IGNORED("targetRef", KT_ANY, "set by controllers"),
	END,
};

static const kube_field endpoint_port[] = {
	F("name", KT_STRING),
	F("port", KT_INT),
	F("protocol", KT_STRING),
	IGNORED("appProtocol", KT_STRING, "no proxy reads it: traffic is forwarded as it comes"),
	END,
};

static const kube_field endpoint_subset[] = {
	LIST_OF("addresses", endpoint_address),
	LIST_OF("notReadyAddresses", endpoint_address),
	LIST_OF("ports", endpoint_port),
	END,
};

const kube_field kube_schema_service[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	OBJ("spec", service_spec),
	IGNORED("status", KT_ANY, "status is berth's to report"),
	END,
};

const kube_field kube_schema_endpoints[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	LIST_OF("subsets", endpoint_subset),
	END,
};

const kube_field kube_schema_list[] = {
	TYPE_META,
	{ .name = "metadata", .type = KT_ANY },
	LIST("items", KT_OBJECT),
	END,
};

/* autoscaling: the specs are in hpa_spec.c */
const kube_field kube_schema_hpa_v2[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	OBJ("spec", kube_schema_hpa_spec_v2),
	IGNORED("status", KT_ANY, "status is berth's to report"),
	END,
};

const kube_field kube_schema_hpa_v1[] = {
	TYPE_META,
	OBJ("metadata", object_meta),
	OBJ("spec", kube_schema_hpa_spec_v1),
	IGNORED("status", KT_ANY, "status is berth's to report"),
	END,
};

/* ---- the walk */

static const char *type_name(kube_type t)
{
	switch (t) {
	case KT_STRING:
		return "a string";
	case KT_INT:
		return "an integer";
	case KT_BOOL:
		return "a boolean";
	case KT_OBJECT:
	case KT_STRING_MAP:
		return "an object";
	case KT_LIST:
		return "a list";
	case KT_INT_OR_STRING:
		return "an integer or a string";
	case KT_QUANTITY:
		return "a quantity (a number or a string such as 500m or 128Mi)";
	case KT_ANY:
		return "a value";
	}
	return "a value";
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

static int check_value(json_t *v, kube_type type, kube_type item, const kube_field *fields, const char *path,
		       kube_ignored_fn ignored, void *data, berth_error **err);

static int type_mismatch(const char *path, kube_type want, const json_t *got, berth_error **err)
{
	return berth_error_request(err, EINVAL, "%s: expected %s, got %s", path, type_name(want), json_kind(got));
}

static int check_object(json_t *obj, const kube_field *fields, const char *path, kube_ignored_fn ignored, void *data,
			berth_error **err)
{
	const char *key;
	json_t *child;
	json_object_foreach(obj, key, child) {
		_cleanup_free_ char *child_path = json_read_child_path(path, key);
		if (child_path == NULL)
			return berth_error_set(err, ENOMEM, "path");
		if (fields == NULL)
			continue; /* free-form: resources.limits and requests are checked by name later */
		const kube_field *f = fields;
		while (f->name != NULL && strcmp(f->name, key) != 0)
			f++;
		if (f->name == NULL)
			return berth_error_request(err, EINVAL, "%s: unknown field", child_path);
		if (json_is_null(child))
			continue; /* null is "not set", as Kubernetes reads it */
		if (f->support == KS_UNSUPPORTED)
			return berth_error_request(err, ENOTSUP, "%s: not supported by berth (%s)", child_path,
						   f->note);
		if (f->support == KS_IGNORED && ignored != NULL)
			ignored(child_path, f->note, data);
		if (check_value(child, f->type, f->item, f->fields, child_path, ignored, data, err) < 0)
			return -1;
	}
	return 0;
}

static int check_value(json_t *v, kube_type type, kube_type item, const kube_field *fields, const char *path,
		       kube_ignored_fn ignored, void *data, berth_error **err)
{
	switch (type) {
	case KT_ANY:
		return 0;
	case KT_STRING:
		return json_is_string(v) ? 0 : type_mismatch(path, type, v, err);
	case KT_INT:
		return json_is_integer(v) ? 0 : type_mismatch(path, type, v, err);
	case KT_BOOL:
		return json_is_boolean(v) ? 0 : type_mismatch(path, type, v, err);
	case KT_INT_OR_STRING:
		return json_is_integer(v) || json_is_string(v) ? 0 : type_mismatch(path, type, v, err);
	case KT_QUANTITY:
		return json_is_number(v) || json_is_string(v) ? 0 : type_mismatch(path, type, v, err);
	case KT_STRING_MAP: {
		if (!json_is_object(v))
			return type_mismatch(path, type, v, err);
		const char *key;
		json_t *child;
		json_object_foreach(v, key, child) {
			if (!json_is_string(child) && !json_is_null(child)) {
				_cleanup_free_ char *child_path = json_read_child_path(path, key);
				return type_mismatch(child_path ? child_path : path, KT_STRING, child, err);
			}
		}
		return 0;
	}
	case KT_OBJECT:
		if (!json_is_object(v))
			return type_mismatch(path, type, v, err);
		return check_object(v, fields, path, ignored, data, err);
	case KT_LIST: {
		if (!json_is_array(v))
			return type_mismatch(path, type, v, err);
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child) {
			_cleanup_free_ char *child_path = json_read_index_path(path, i);
			if (child_path == NULL)
				return berth_error_set(err, ENOMEM, "path");
			if (check_value(child, item, KT_ANY, fields, child_path, ignored, data, err) < 0)
				return -1;
		}
		return 0;
	}
	}
	return 0;
}

int kube_schema_check(json_t *value, const kube_field *fields, const char *path, kube_ignored_fn ignored, void *data,
		      berth_error **err)
{
	return check_value(value, KT_OBJECT, KT_ANY, fields, path ? path : "", ignored, data, err);
}
