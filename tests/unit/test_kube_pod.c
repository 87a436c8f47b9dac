/* src/kube/pod_plan.c: a Pod's spec as the engine's run_options of its
 * holder and containers (Kubernetes' command/args against the image's
 * entrypoint, env with valueFrom, resources, securityContext, volumes,
 * hostPorts), and the errors found before anything is created. */
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

#include "kube/generate.h"
#include "kube/manifest.h"
#include "kube/pod_plan.h"
#include "kube/state.h"

typedef struct fixture {
	char root[64];
	engine_paths paths;
	kube_context k;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	strcpy(f->root, "/tmp/berth-kube-pod-test.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->paths.store_root = f->root;
	f->paths.run_root = f->root;
	f->k.paths = &f->paths;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Applies TEXT's objects; returns the last one (a new reference). */
static json_t *apply(fixture *f, const char *text)
{
	kube_manifest m = { 0 };
	berth_error *err = NULL;
	json_t *last = NULL;

	if (kube_manifest_add_text(&m, text, strlen(text), "t.yaml", "default", &err) < 0)
		fail_msg("%s", err->msg);
	for (size_t i = 0; i < m.n; i++) {
		kube_apply_result r;
		if (kube_state_apply(f->root, &m.objects[i], &r, &err) < 0)
			fail_msg("%s", err->msg);
	}
	last = json_incref(m.objects[m.n - 1].object);
	kube_manifest_free(&m);
	return last;
}

static bool has(const char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static const char pod_yaml[] =
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata: {name: cfg}\n"
    "data: {MODE: fast, app.conf: \"k=v\\n\"}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata: {name: sec}\n"
    "data: {token: czNjcmV0}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata: {name: p, labels: {app: web}}\n"
    "spec:\n"
    "  terminationGracePeriodSeconds: 3\n"
    "  securityContext: {runAsUser: 1000, fsGroup: 2000}\n"
    "  volumes:\n"
    "  - {name: data, emptyDir: {}}\n"
    "  - {name: conf, configMap: {name: cfg, items: [{key: app.conf, path: sub/app.conf}]}}\n"
    "  - {name: db, persistentVolumeClaim: {claimName: dbvol}}\n"
    "  containers:\n"
    "  - name: web\n"
    "    image: nginx\n"
    "    command: [/bin/server]\n"
    "    args: [--port, \"8080\", \"--me=$(ME)\", \"$$(ME)\"]\n"
    "    workingDir: /srv\n"
    "    ports: [{containerPort: 8080, hostPort: 18080}]\n"
    "    env:\n"
    "    - {name: PLAIN, value: one}\n"
    "    - name: MODE\n"
    "      valueFrom: {configMapKeyRef: {name: cfg, key: MODE}}\n"
    "    - name: TOKEN\n"
    "      valueFrom: {secretKeyRef: {name: sec, key: token}}\n"
    "    - name: ME\n"
    "      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"
    "    - name: IP\n"
    "      valueFrom: {fieldRef: {fieldPath: status.podIP}}\n"
    "    - {name: URL, value: \"http://$(IP):8080/$(NOPE)\"}\n"
    "    envFrom: [{prefix: C_, configMapRef: {name: cfg}}]\n"
    "    resources: {limits: {memory: 128Mi, cpu: 250m}}\n"
    "    securityContext:\n"
    "      runAsGroup: 3000\n"
    "      readOnlyRootFilesystem: true\n"
    "      allowPrivilegeEscalation: true\n"
    "      capabilities: {add: [NET_ADMIN], drop: [ALL]}\n"
    "      seccompProfile: {type: Unconfined}\n"
    "    volumeMounts:\n"
    "    - {name: data, mountPath: /data}\n"
    "    - {name: conf, mountPath: /etc/app}\n"
    "    - {name: db, mountPath: /db, readOnly: true}\n"
    "  - name: side\n"
    "    image: busybox\n"
    "    args: [sleep, \"10\"]\n";

static void test_plan_maps_the_spec(void **state)
{
	fixture *f = *state;
	json_t *pod = apply(f, pod_yaml);
	berth_error *err = NULL;
	kube_pod_plan pl;
	char dir[256];

	if (kube_pod_plan_make(&f->k, pod, "Deployment/web", &pl, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(pl.n_containers, 2);
	assert_int_equal(pl.grace_s, 3);
	/* the holder: the pause image, the pod's hostname, its hostPorts */
	assert_non_null(strstr(pl.holder.image, "localhost/berth-pause:"));
	assert_string_equal(pl.holder.o.name, "k8s_POD_p_default");
	assert_string_equal(pl.holder.o.hostname, "p");
	assert_true(has(pl.holder.o.publish, "18080:8080/tcp"));
	assert_true(has(pl.holder.o.labels, "io.kubernetes.pod.name=p"));
	assert_true(has(pl.holder.o.labels, "io.kubernetes.container.name=POD"));
	assert_true(has(pl.holder.o.labels, "io.berth.kube.owner=Deployment/web"));
	assert_true(has(pl.holder.o.labels, "app=web"));
	/* it only keeps the namespaces: no monitor stays, nothing restarts it */
	assert_true(pl.holder.o.no_monitor);
	assert_string_equal(pl.holder.o.restart, "no");
	assert_false(pl.containers[0].o.no_monitor);

	kube_container_plan *web = &pl.containers[0];
	assert_string_equal(web->o.name, "k8s_web_p_default");
	assert_string_equal(web->o.network, "container:k8s_POD_p_default");
	/* IPC is the holder's (shareable); PID only with shareProcessNamespace */
	assert_string_equal(pl.holder.o.ipc, "shareable");
	assert_string_equal(web->o.ipc, "container:k8s_POD_p_default");
	assert_null(web->o.pid);
	/* command replaces the entrypoint (and the image's CMD), args follow */
	assert_string_equal(web->o.entrypoint, "");
	assert_string_equal(web->o.command[0], "/bin/server");
	assert_string_equal(web->o.command[1], "--port");
	assert_string_equal(web->o.command[2], "8080");
	assert_string_equal(web->o.workdir, "/srv");
	assert_string_equal(web->o.user, "1000:3000");
	assert_string_equal(web->o.memory, "134217728");
	assert_string_equal(web->o.cpus, "0.250");
	assert_string_equal(web->o.stop_timeout, "3");
	assert_string_equal(web->o.restart, "always");
	assert_true(web->o.read_only);
	assert_true(has(web->o.cap_add, "NET_ADMIN"));
	assert_true(has(web->o.cap_drop, "ALL"));
	assert_true(has(web->o.security_opts, "no-new-privileges=false"));
	assert_true(has(web->o.security_opts, "seccomp=unconfined"));
	snprintf(dir, sizeof(dir), "%s/kube-pods/default/p/volumes/data:/data:rw", f->root);
	assert_true(has(web->o.volumes, dir));
	snprintf(dir, sizeof(dir), "%s/kube-pods/default/p/volumes/conf:/etc/app:ro", f->root);
	assert_true(has(web->o.volumes, dir));
	assert_true(has(web->o.volumes, "dbvol:/db:ro"));
	assert_true(has(web->o.labels, "io.kubernetes.container.name=web"));
	if (kube_pod_plan_set_env(&pl, web, "10.77.0.9", &err) < 0)
		fail_msg("%s", err->msg);
	assert_true(has(web->o.env, "PLAIN=one"));
	assert_true(has(web->o.env, "MODE=fast"));
	assert_true(has(web->o.env, "TOKEN=s3cret"));
	assert_true(has(web->o.env, "ME=p"));
	assert_true(has(web->o.env, "IP=10.77.0.9"));
	assert_true(has(web->o.env, "C_MODE=fast"));
	/* $(VAR) in env values (earlier ones) and in the command */
	assert_true(has(web->o.env, "URL=http://10.77.0.9:8080/$(NOPE)"));
	assert_string_equal(web->o.command[3], "--me=p");
	assert_string_equal(web->o.command[4], "$(ME)");
	/* args alone keep the image's entrypoint */
	assert_null(pl.containers[1].o.entrypoint);
	assert_string_equal(pl.containers[1].o.command[0], "sleep");
	/* the configMap volume's files, the emptyDir's group */
	assert_int_equal(pl.n_volumes, 3);
	assert_non_null(json_object_get(pl.volumes[1].files, "sub/app.conf"));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(pl.volumes[1].files, "sub/app.conf"), "data")), "k=v\n");
	assert_int_equal(pl.volumes[0].group, 2000);
	kube_pod_plan_free(&pl);
	json_decref(pod);
}

static char *plan_error(fixture *f, const char *text, bool lenient)
{
	json_t *pod = apply(f, text);
	berth_error *err = NULL;
	kube_pod_plan pl;
	char *msg = NULL;

	f->k.lenient_refs = lenient;
	if (kube_pod_plan_make(&f->k, pod, NULL, &pl, &err) < 0) {
		msg = strdup(err->msg);
		berth_error_free(&err);
	}
	f->k.lenient_refs = false;
	kube_pod_plan_free(&pl);
	json_decref(pod);
	return msg;
}

#define POD_HEAD "apiVersion: v1\nkind: Pod\nmetadata: {name: e}\nspec:\n"

/* shareProcessNamespace: the containers join the holder's PID namespace;
 * hostIPC and hostPID: the host's, the holder's too. */
static void test_plan_shared_namespaces(void **state)
{
	fixture *f = *state;
	json_t *pod = apply(f, POD_HEAD "  shareProcessNamespace: true\n  containers:\n  - {name: a, image: x}\n");
	berth_error *err = NULL;
	kube_pod_plan pl;

	if (kube_pod_plan_make(&f->k, pod, NULL, &pl, &err) < 0)
		fail_msg("%s", err->msg);
	assert_null(pl.holder.o.pid);
	assert_string_equal(pl.containers[0].o.pid, "container:k8s_POD_e_default");
	assert_string_equal(pl.containers[0].o.ipc, "container:k8s_POD_e_default");
	kube_pod_plan_free(&pl);
	json_decref(pod);
	pod = apply(f, POD_HEAD "  hostPID: true\n  hostIPC: true\n  containers:\n  - {name: a, image: x}\n");
	if (kube_pod_plan_make(&f->k, pod, NULL, &pl, &err) < 0)
		fail_msg("%s", err->msg);
	assert_string_equal(pl.holder.o.pid, "host");
	assert_string_equal(pl.holder.o.ipc, "host");
	assert_string_equal(pl.containers[0].o.pid, "host");
	assert_string_equal(pl.containers[0].o.ipc, "host");
	kube_pod_plan_free(&pl);
	json_decref(pod);
}

static void test_plan_errors(void **state)
{
	fixture *f = *state;
	char *msg;

	msg = plan_error(f,
			 POD_HEAD "  containers:\n  - name: a\n    image: x\n    env:\n    - name: K\n"
				  "      valueFrom: {configMapKeyRef: {name: missing, key: k}}\n",
			 false);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "spec.containers[0].env[0].valueFrom"));
	assert_non_null(strstr(msg, "configmap \"missing\" not found"));
	free(msg);
	/* checking a manifest whose ConfigMap comes later is no error */
	msg = plan_error(f,
			 POD_HEAD "  containers:\n  - name: a\n    image: x\n    env:\n    - name: K\n"
				  "      valueFrom: {configMapKeyRef: {name: missing, key: k}}\n",
			 true);
	assert_null(msg);
	msg = plan_error(
	    f, POD_HEAD "  shareProcessNamespace: true\n  hostPID: true\n  containers:\n  - {name: a, image: x}\n",
	    false);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "spec.shareProcessNamespace: may not be true when spec.hostPID is true"));
	free(msg);
	msg = plan_error(f,
			 POD_HEAD "  volumes:\n  - {name: m, emptyDir: {medium: Memory}}\n  containers:\n"
				  "  - {name: a, image: x}\n",
			 false);
	assert_non_null(strstr(msg, "spec.volumes[0].emptyDir.medium: Memory"));
	free(msg);
	msg = plan_error(f,
			 POD_HEAD "  volumes:\n  - {name: h, hostPath: {path: /does/not/exist, type: Directory}}\n"
				  "  containers:\n  - {name: a, image: x}\n",
			 false);
	assert_non_null(strstr(msg, "spec.volumes[0].hostPath: \"/does/not/exist\" is not a Directory"));
	free(msg);
}

static void test_generate(void **state)
{
	char buf[64];
	container c = { .name = "My_App.1" };
	container *list[] = { &c };
	json_error_t jerr;

	(void)state;
	assert_string_equal(kube_dns_label("My_App.1", buf), "my-app-1");
	assert_string_equal(kube_dns_label("--x--", buf), "x");
	assert_string_equal(kube_dns_label("___", buf), "x");
	c.config =
	    json_loads("{\"Image\": \"bb\", \"Command\": [\"httpd\", \"-f\"], \"Env\": [\"A=1\", \"B\"],"
		       " \"WorkingDir\": \"/srv\", \"User\": \"1000:10\", \"RestartPolicy\": \"on-failure\","
		       " \"NetworkSettings\": {\"Ports\": [{\"Protocol\": \"udp\", \"HostIp\": \"127.0.0.1\","
		       " \"HostPort\": 5353, \"ContainerPort\": 53}]},"
		       " \"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/h\", \"Destination\": \"/d\", \"RW\": false},"
		       " {\"Type\": \"volume\", \"Name\": \"v1\", \"Destination\": \"/v\", \"RW\": true}]}",
		       0, &jerr);
	assert_non_null(c.config);
	json_t *pod = kube_generate_pod(list, 1, NULL);
	json_t *spec = json_object_get(pod, "spec"), *ctr = json_array_get(json_object_get(spec, "containers"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")), "my-app-1");
	assert_string_equal(json_string_value(json_object_get(spec, "restartPolicy")), "OnFailure");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ctr, "command"), 0)), "httpd");
	assert_int_equal(json_array_size(json_object_get(ctr, "env")), 1); /* "B" has no value */
	assert_string_equal(json_string_value(json_object_get(ctr, "workingDir")), "/srv");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ctr, "securityContext"), "runAsGroup")),
			 10);
	json_t *port = json_array_get(json_object_get(ctr, "ports"), 0);
	assert_string_equal(json_string_value(json_object_get(port, "protocol")), "UDP");
	assert_int_equal(json_integer_value(json_object_get(port, "hostPort")), 5353);
	assert_string_equal(json_string_value(json_object_get(port, "hostIP")), "127.0.0.1");
	json_t *vols = json_object_get(spec, "volumes");
	assert_int_equal(json_array_size(vols), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_array_get(vols, 0), "hostPath"), "path")), "/h");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_array_get(vols, 1), "persistentVolumeClaim"), "claimName")),
			    "v1");
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(ctr, "volumeMounts"), 0), "readOnly")));
	json_decref(pod);
	json_decref(c.config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_maps_the_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_shared_namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_errors, setup, teardown),
		cmocka_unit_test(test_generate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
