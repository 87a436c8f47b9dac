/* src/kube: YAML as kubectl reads it, the schema walk, the API server's
 * validation rules, quantities and selectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/manifest.h"
#include "kube/quantity.h"
#include "kube/state.h"
#include "kube/validate.h"
#include "kube/yaml_load.h"

/* ---- YAML */

static json_t *parse_one(const char *text)
{
	kube_stream s = { 0 };
	berth_error *err = NULL;
	int r = kube_yaml_parse(text, strlen(text), "t.yaml", &s, &err);
	if (r < 0) {
		fprintf(stderr, "unexpected: %s\n", err->msg);
		berth_error_free(&err);
		return NULL;
	}
	assert_int_equal(s.n, 1);
	json_t *v = json_incref(s.docs[0].value);
	kube_stream_free(&s);
	return v;
}

static char *parse_error(const char *text)
{
	kube_stream s = { 0 };
	berth_error *err = NULL;
	int r = kube_yaml_parse(text, strlen(text), "t.yaml", &s, &err);
	assert_true(r < 0);
	char *msg = strdup(err->msg);
	berth_error_free(&err);
	return msg;
}

static void test_yaml_scalars(void **state)
{
	(void)state;
	json_t *v = parse_one("a: 42\nb: \"42\"\nc: yes\nd: 'no'\ne: 1.5\nf: ~\ng: 0x1F\nh: 0o17\ni: text\n"
			      "j: !!str 7\nk: 1_000\nl: 010\nm: -3\nn: True\no: ''\n");
	assert_non_null(v);
	assert_int_equal(json_integer_value(json_object_get(v, "a")), 42);
	assert_string_equal(json_string_value(json_object_get(v, "b")), "42");
	assert_true(json_is_true(json_object_get(v, "c")));
	assert_string_equal(json_string_value(json_object_get(v, "d")), "no");
	assert_true(json_is_real(json_object_get(v, "e")));
	assert_true(json_is_null(json_object_get(v, "f")));
	assert_int_equal(json_integer_value(json_object_get(v, "g")), 31);
	assert_int_equal(json_integer_value(json_object_get(v, "h")), 15);
	assert_string_equal(json_string_value(json_object_get(v, "i")), "text");
	assert_string_equal(json_string_value(json_object_get(v, "j")), "7");
	assert_int_equal(json_integer_value(json_object_get(v, "k")), 1000);
	assert_int_equal(json_integer_value(json_object_get(v, "l")), 8);
	assert_int_equal(json_integer_value(json_object_get(v, "m")), -3);
	assert_true(json_is_true(json_object_get(v, "n")));
	assert_string_equal(json_string_value(json_object_get(v, "o")), "");
	json_decref(v);
}

static void test_yaml_block_scalars_and_flow(void **state)
{
	(void)state;
	json_t *v =
	    parse_one("cmd: [\"sh\", \"-c\", 'echo hi']\nscript: |\n  line one\n  line two\nfolded: >\n  a\n  b\n"
		      "map: {x: 1, y: [a, b]}\n");
	assert_non_null(v);
	assert_int_equal(json_array_size(json_object_get(v, "cmd")), 3);
	assert_string_equal(json_string_value(json_object_get(v, "script")), "line one\nline two\n");
	assert_string_equal(json_string_value(json_object_get(v, "folded")), "a b\n");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "map"), "x")), 1);
	json_decref(v);
}

static void test_yaml_anchors_and_merge(void **state)
{
	(void)state;
	json_t *v = parse_one("base: &b {image: app, port: 80}\none:\n  <<: *b\n  port: 81\ntwo: *b\n");
	assert_non_null(v);
	json_t *one = json_object_get(v, "one");
	assert_string_equal(json_string_value(json_object_get(one, "image")), "app");
	assert_int_equal(json_integer_value(json_object_get(one, "port")), 81);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "two"), "port")), 80);
	json_decref(v);
}

static void test_yaml_documents(void **state)
{
	(void)state;
	const char *text = "---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n---\n";
	kube_stream s = { 0 };
	berth_error *err = NULL;
	assert_int_equal(kube_yaml_parse(text, strlen(text), "t.yaml", &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.docs[0].index, 1);
	assert_int_equal(s.docs[1].index, 3);
	assert_int_equal(s.docs[1].line, 5); /* its "---" */
	assert_int_equal(kube_yaml_line(&s.docs[1], "b"), 6);
	kube_stream_free(&s);
}

static void test_yaml_errors(void **state)
{
	(void)state;
	char *m = parse_error("a: 1\n  b: 2\n");
	assert_non_null(strstr(m, "t.yaml:2:"));
	free(m);
	m = parse_error("a: 1\na: 2\n");
	assert_non_null(strstr(m, "key \"a\" already set"));
	assert_non_null(strstr(m, "t.yaml:2:"));
	free(m);
	m = parse_error("- a\n- b\n");
	assert_non_null(strstr(m, "expected a mapping"));
	free(m);
	m = parse_error("a: *nope\n");
	assert_non_null(strstr(m, "nope"));
	free(m);
	m = parse_error("a: .inf\n");
	assert_non_null(strstr(m, "infinity"));
	free(m);
	m = parse_error("a: !custom x\n");
	assert_non_null(strstr(m, "unsupported tag"));
	free(m);
	m = parse_error("a: !!int abc\n");
	assert_non_null(strstr(m, "not a valid !!int"));
	free(m);
}

static void test_yaml_alias_bomb(void **state)
{
	(void)state;
	/* each level doubles: 2^40 values if expanded */
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "l0: &l0 [x, x]\n");
	for (int i = 1; i <= 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "l%d: &l%d [*l%d, *l%d]\n", i, i, i - 1, i - 1);
	char *m = parse_error(text);
	assert_non_null(strstr(m, "too many values"));
	free(m);
}

/* ---- manifests */

static char *manifest_error(const char *text)
{
	kube_manifest m = { 0 };
	berth_error *err = NULL;
	int r = kube_manifest_add_text(&m, text, strlen(text), "app.yaml", "default", &err);
	assert_true(r < 0);
	assert_int_equal(m.n, 0); /* nothing added on error */
	kube_manifest_free(&m);
	char *msg = strdup(err->msg);
	berth_error_free(&err);
	return msg;
}

static void assert_error(const char *text, const char *expected)
{
	char *msg = manifest_error(text);
	if (strstr(msg, expected) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", msg, expected);
	free(msg);
}

#define DEPLOYMENT_HEAD                                                                                                \
	"apiVersion: apps/v1\n"                                                                                        \
	"kind: Deployment\n"                                                                                           \
	"metadata:\n"                                                                                                  \
	"  name: web\n"                                                                                                \
	"  labels: {app: web}\n"                                                                                       \
	"spec:\n"                                                                                                      \
	"  replicas: 3\n"                                                                                              \
	"  selector:\n"                                                                                                \
	"    matchLabels: {app: web}\n"                                                                                \
	"  template:\n"                                                                                                \
	"    metadata:\n"                                                                                              \
	"      labels: {app: web, tier: front}\n"                                                                      \
	"    spec:\n"                                                                                                  \
	"      containers:\n"                                                                                          \
	"      - name: nginx\n"

static const char deployment_ok[] = DEPLOYMENT_HEAD "        image: nginx:1.25\n"
						    "        ports:\n"
						    "        - containerPort: 80\n"
						    "          name: http\n"
						    "        readinessProbe:\n"
						    "          httpGet: {path: /, port: http}\n"
						    "          periodSeconds: 2\n"
						    "        resources:\n"
						    "          requests: {cpu: 100m, memory: 64Mi}\n"
						    "          limits: {cpu: 1, memory: 128Mi}\n"
						    "      nodeSelector: {disk: ssd}\n"
						    "---\n"
						    "apiVersion: v1\n"
						    "kind: ConfigMap\n"
						    "metadata: {name: web-config, namespace: prod}\n"
						    "data: {index.html: hello}\n";

static void test_manifest_valid(void **state)
{
	(void)state;
	kube_manifest m = { 0 };
	berth_error *err = NULL;
	int r = kube_manifest_add_text(&m, deployment_ok, strlen(deployment_ok), "app.yaml", "default", &err);
	if (r < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.objects[0].kind, "Deployment");
	assert_string_equal(m.objects[0].namespace, "default");
	assert_string_equal(m.objects[1].namespace, "prod");
	assert_non_null(kube_manifest_find(&m, "deploy", "default", "web"));
	assert_non_null(kube_manifest_find(&m, "cm", "prod", "web-config"));
	assert_null(kube_manifest_find(&m, "cm", "default", "web-config"));
	/* nodeSelector means nothing on one host: a warning, not an error */
	assert_int_equal(m.n_warnings, 1);
	assert_non_null(strstr(m.warnings[0], "spec.template.spec.nodeSelector: ignored"));
	kube_manifest_free(&m);
}

static void test_manifest_field_errors(void **state)
{
	(void)state;
	/* the line of the field and its path */
	assert_error(
	    DEPLOYMENT_HEAD "        imagee: nginx\n",
	    "app.yaml:16: document 1 (Deployment web): spec.template.spec.containers[0].imagee: unknown field");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        ports: [{containerPort: \"80\"}]\n",
		     "spec.template.spec.containers[0].ports[0].containerPort: expected an integer, got a string");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        env: [{name: DEBUG, value: yes}]\n",
		     "spec.template.spec.containers[0].env[0].value: expected a string, got a boolean");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        livenessProbe: {grpc: {port: 9000}}\n",
		     "livenessProbe.grpc: not supported by berth");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n      ephemeralContainers: []\n",
		     "spec.template.spec.ephemeralContainers: not supported by berth");
}

static void test_manifest_rules(void **state)
{
	(void)state;
	assert_error(DEPLOYMENT_HEAD "        ports: [{containerPort: 80}]\n",
		     "spec.template.spec.containers[0].image: required");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        ports: [{containerPort: 70000}]\n",
		     "containerPort: 70000 is not a port");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n      - name: nginx\n        image: other\n",
		     "containers[1].name: duplicate container name \"nginx\"");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        readinessProbe: {periodSeconds: 1}\n",
		     "readinessProbe: needs a handler");
	assert_error(DEPLOYMENT_HEAD
		     "        image: nginx\n        livenessProbe:\n          exec: {command: [\"true\"]}\n"
		     "          tcpSocket: {port: 80}\n",
		     "livenessProbe: may have only one handler");
	assert_error(DEPLOYMENT_HEAD
		     "        image: nginx\n        livenessProbe:\n          exec: {command: [\"true\"]}\n"
		     "          successThreshold: 2\n",
		     "successThreshold: must be 1 for a livenessProbe");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        resources: {limits: {memory: 12Qi}}\n",
		     "resources.limits.memory: quantity \"12Qi\": unknown suffix");
	assert_error(DEPLOYMENT_HEAD
		     "        image: nginx\n        resources: {limits: {cpu: 1}, requests: {cpu: 2}}\n",
		     "requests.cpu: must be less than or equal to the limit");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        resources: {limits: {nvidia.com/gpu: 1}}\n",
		     "not supported by berth");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        volumeMounts: [{name: data, mountPath: /d}]\n",
		     "volumeMounts[0].name: no volume \"data\"");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n      restartPolicy: Never\n",
		     "spec.template.spec.restartPolicy: must be \"Always\" in a Deployment");
	assert_error(DEPLOYMENT_HEAD
		     "        image: nginx\n  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n",
		     "spec.strategy.rollingUpdate: may not be set with type Recreate");
	assert_error(DEPLOYMENT_HEAD
		     "        image: nginx\n  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}\n",
		     "may not be 0 when maxSurge is 0");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n  strategy: {rollingUpdate: {maxUnavailable: 120%}}\n",
		     "at most 100%");
	assert_error(DEPLOYMENT_HEAD "        image: nginx\n        env: [{name: A, valueFrom: {fieldRef: {fieldPath: "
				     "spec.foo}}}]\n",
		     "fieldRef.fieldPath: unsupported \"spec.foo\"");
	/* the selector must select the template */
	assert_error("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: "
		     "{app: api}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: "
		     "[{name: a, image: b}]\n",
		     "`selector` does not match template `labels`");
	assert_error("apiVersion: v1\nkind: Pod\nmetadata: {name: Web_1}\nspec: {containers: [{name: a, image: b}]}\n",
		     "metadata.name: \"Web_1\" is not a valid name");
	assert_error("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: []}\n",
		     "spec.containers: at least one container is required");
	assert_error("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: '***'}\n",
		     "data.password: not valid base64");
	assert_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a/b: x}\n",
		     "\"a/b\" is not a valid key");
}

static void test_manifest_kinds(void **state)
{
	(void)state;
	assert_error("apiVersion: v1\nkind: Pdo\nmetadata: {name: a}\n", "unknown kind \"Pdo\"");
	assert_error("apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\n", "Job is not supported by berth yet");
	assert_error("apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: a}\n",
		     "apps/v1beta1 is not served for kind Deployment");
	assert_error("apiVersion: v1\nmetadata: {name: a}\n", "kind: required");
	/* the second document is wrong: the first is not kept either */
	assert_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\n"
		     "metadata: {name: a}\n",
		     "ConfigMap \"a\" is defined twice");
	/* a List is expanded; its items are located */
	assert_error("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n"
		     "  dataa: {}\n",
		     "app.yaml:7: document 1 (ConfigMap a): dataa: unknown field");
}

/* Service and Endpoints: the API server's rules, in its words */
static void test_manifest_services(void **state)
{
	(void)state;
	kube_manifest m = { 0 };
	berth_error *err = NULL;
	const char *ok = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n"
			 "  selector: {app: web}\n  sessionAffinity: ClientIP\n"
			 "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n"
			 "  ports:\n  - {name: http, port: 80, targetPort: http, nodePort: 30080}\n"
			 "  - {name: dns, port: 53, protocol: UDP, targetPort: 5353}\n---\n"
			 "apiVersion: v1\nkind: Service\nmetadata: {name: hl}\nspec: {clusterIP: None}\n---\n"
			 "apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext}\n"
			 "subsets: [{addresses: [{ip: 10.1.2.3}], ports: [{port: 80}]}]\n";
	assert_int_equal(kube_manifest_add_text(&m, ok, strlen(ok), "svc.yaml", "default", &err), 0);
	assert_int_equal(m.n, 3);
	kube_manifest_free(&m);

#define SVC(spec) "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: " spec "\n"
	assert_error(SVC("{}"), "spec.ports: Required value");
	assert_error(SVC("{ports: [{port: 80}, {port: 81}]}"), "spec.ports[0].name: Required value");
	assert_error(SVC("{ports: [{name: a, port: 80}, {name: a, port: 81}]}"),
		     "spec.ports[1].name: Duplicate value: \"a\"");
	assert_error(SVC("{ports: [{name: a, port: 80}, {name: b, port: 80}]}"),
		     "spec.ports[1]: Duplicate value: port 80/TCP");
	assert_error(SVC("{ports: [{port: 0}]}"), "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535");
	assert_error(SVC("{ports: [{port: 80, protocol: SCTP}]}"), "SCTP is not supported by berth");
	assert_error(SVC("{ports: [{port: 80, protocol: tcp}]}"), "spec.ports[0].protocol: Unsupported value: \"tcp\"");
	assert_error(SVC("{ports: [{port: 80, nodePort: 30080}]}"),
		     "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
	assert_error(SVC("{type: NodePort, ports: [{port: 80, nodePort: 80}]}"),
		     "provided port is not in the valid range. The range of valid ports is 30000-32767");
	assert_error(SVC("{type: NodePort, ports: [{name: a, port: 80, nodePort: 30080}, "
			 "{name: b, port: 81, nodePort: 30080}]}"),
		     "spec.ports[1].nodePort: Duplicate value: 30080");
	assert_error(SVC("{type: ExternalName, externalName: x.example}"), "not supported by berth");
	assert_error(SVC("{type: Foo, ports: [{port: 80}]}"), "spec.type: Unsupported value: \"Foo\"");
	assert_error(SVC("{type: NodePort, clusterIP: None, ports: [{port: 80}]}"),
		     "may not be set to 'None' for NodePort services");
	assert_error(SVC("{clusterIP: 10.0.0.1, ports: [{port: 80}]}"),
		     "the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/16");
	assert_error(SVC("{clusterIP: nope, ports: [{port: 80}]}"), "must be empty, 'None', or a valid IP address");
	assert_error(SVC("{sessionAffinity: Sticky, ports: [{port: 80}]}"), "spec.sessionAffinity: Unsupported value");
	assert_error(SVC("{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, "
			 "ports: [{port: 80}]}"),
		     "must be greater than 0 and less than 86400");
	assert_error(SVC("{ports: [{port: 80, targetPort: no_such}]}"), "spec.ports[0].targetPort: Invalid value");
	assert_error(SVC("{externalIPs: [1.2.3.4], ports: [{port: 80}]}"), "spec.externalIPs: not supported by berth");
	assert_error("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n",
		     "a DNS-1035 label");
	assert_error(
	    "apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: 127.0.0.1}]}]\n",
	    "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range");
	assert_error("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{ip: x}]}]\n",
		     "must be a valid IP address");
#undef SVC
}

/* ---- quantities and selectors */

static int64_t quantity(const char *text)
{
	int64_t v = -1;
	berth_error *err = NULL;
	if (kube_quantity_parse(text, &v, &err) < 0) {
		berth_error_free(&err);
		return -1;
	}
	return v;
}

static void test_quantities(void **state)
{
	(void)state;
	assert_int_equal(quantity("500m"), 500);
	assert_int_equal(quantity("1"), 1000);
	assert_int_equal(quantity("0.5"), 500);
	assert_int_equal(quantity("2.25"), 2250);
	assert_int_equal(quantity("128Mi"), 128LL * 1024 * 1024 * 1000);
	assert_int_equal(quantity("1G"), 1000000000LL * 1000);
	assert_int_equal(quantity("1e3"), 1000LL * 1000);
	assert_int_equal(quantity("1.5Gi"), 1610612736LL * 1000);
	assert_int_equal(quantity("1n"), 1); /* rounded up to the smallest step */
	assert_int_equal(quantity("-1"), -1);
	assert_int_equal(quantity(""), -1);
	assert_int_equal(quantity("12Qi"), -1);
	assert_int_equal(quantity("1e99"), -1);
	assert_int_equal(quantity("m"), -1);
}

static void test_selector(void **state)
{
	(void)state;
	json_t *sel = json_loads("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
				 "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"front\",\"edge\"]},"
				 "{\"key\":\"legacy\",\"operator\":\"DoesNotExist\"}]}",
				 0, NULL);
	json_t *yes = json_loads("{\"app\":\"web\",\"tier\":\"edge\"}", 0, NULL);
	json_t *no1 = json_loads("{\"app\":\"web\",\"tier\":\"back\"}", 0, NULL);
	json_t *no2 = json_loads("{\"app\":\"web\",\"tier\":\"front\",\"legacy\":\"1\"}", 0, NULL);
	assert_true(kube_selector_matches(sel, yes));
	assert_false(kube_selector_matches(sel, no1));
	assert_false(kube_selector_matches(sel, no2));
	assert_false(kube_selector_matches(sel, NULL));
	json_decref(sel);
	json_decref(yes);
	json_decref(no1);
	json_decref(no2);
	assert_true(kube_is_dns1123_label("web-1"));
	assert_false(kube_is_dns1123_label("-web"));
	assert_false(kube_is_dns1123_label("Web"));
	assert_true(kube_is_dns1123_subdomain("web.example-1"));
	assert_false(kube_is_dns1123_subdomain("web..x"));
	assert_false(kube_is_dns1123_subdomain("web."));
}

/* ---- the desired state in the store */

static void apply_text(const char *root, const char *text, kube_apply_result expected)
{
	kube_manifest m = { 0 };
	berth_error *err = NULL;
	if (kube_manifest_add_text(&m, text, strlen(text), "t.yaml", "default", &err) < 0)
		fail_msg("%s", err->msg);
	for (size_t i = 0; i < m.n; i++) {
		kube_apply_result result;
		if (kube_state_apply(root, &m.objects[i], &result, &err) < 0)
			fail_msg("%s", err->msg);
		if (i == 0) /* the Deployment; the ConfigMap beside it never changes */
			assert_int_equal(result, expected);
	}
	kube_manifest_free(&m);
}

static const char *revision_of(json_t *d)
{
	return json_string_value(
	    json_object_get(json_object_get(json_object_get(d, "metadata"), "annotations"), KUBE_REVISION_ANNOTATION));
}

static void test_state_apply(void **state)
{
	(void)state;
	char root[] = "/tmp/berth-kube-test.XXXXXX";
	assert_non_null(mkdtemp(root));
	berth_error *err = NULL;
	char v1[sizeof(deployment_ok)], v2[sizeof(deployment_ok)];
	strcpy(v1, deployment_ok);
	strcpy(v2, deployment_ok);
	memcpy(strstr(v2, "nginx:1.25"), "nginx:1.26", 10);

	apply_text(root, v1, KUBE_APPLY_CREATED);
	apply_text(root, v1, KUBE_APPLY_UNCHANGED); /* idempotent */
	json_t *d = NULL;
	assert_int_equal(kube_state_get(root, "Deployment", "default", "web", &d, &err), 0);
	assert_string_equal(revision_of(d), "1");
	const char *uid = json_string_value(json_object_get(json_object_get(d, "metadata"), "uid"));
	assert_non_null(uid);
	assert_int_equal(strlen(uid), 36);
	char *uid1 = strdup(uid);
	json_decref(d);

	apply_text(root, v2, KUBE_APPLY_CONFIGURED); /* a new template: revision 2 */
	assert_int_equal(kube_state_get(root, "Deployment", "default", "web", &d, &err), 0);
	assert_string_equal(revision_of(d), "2");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "metadata"), "uid")), uid1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation")), 2);
	json_decref(d);

	apply_text(root, v1, KUBE_APPLY_CONFIGURED); /* back to the first template: it becomes revision 3 */
	json_t *history = NULL;
	assert_int_equal(kube_state_history(root, "default", "web", &history, &err), 0);
	assert_int_equal(json_array_size(history), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(history, 0), "revision")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(history, 1), "revision")), 3);
	json_decref(history);

	/* scale: a change by berth, same template, same revision */
	assert_int_equal(kube_state_get(root, "Deployment", "default", "web", &d, &err), 0);
	json_object_set_new(json_object_get(d, "spec"), "replicas", json_integer(5));
	assert_int_equal(kube_state_update(root, d, &err), 0);
	json_decref(d);
	assert_int_equal(kube_state_get(root, "Deployment", "default", "web", &d, &err), 0);
	assert_string_equal(revision_of(d), "3");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")), 5);
	json_decref(d);

	json_t *list = NULL;
	assert_int_equal(kube_state_list(root, "ConfigMap", NULL, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(kube_state_list(root, "ConfigMap", "default", &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	assert_int_equal(kube_state_delete(root, "Deployment", "default", "web", &err), 0);
	assert_int_equal(kube_state_delete(root, "Deployment", "default", "web", &err), -ENOENT);
	assert_non_null(strstr(err->msg, "deployment \"web\" not found in namespace default"));
	berth_error_free(&err);
	assert_int_equal(kube_state_delete(root, "ConfigMap", "prod", "web-config", &err), 0);
	free(uid1);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_scalars),
		cmocka_unit_test(test_yaml_block_scalars_and_flow),
		cmocka_unit_test(test_yaml_anchors_and_merge),
		cmocka_unit_test(test_yaml_documents),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_yaml_alias_bomb),
		cmocka_unit_test(test_manifest_valid),
		cmocka_unit_test(test_manifest_field_errors),
		cmocka_unit_test(test_manifest_rules),
		cmocka_unit_test(test_manifest_kinds),
		cmocka_unit_test(test_manifest_services),
		cmocka_unit_test(test_quantities),
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_state_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
