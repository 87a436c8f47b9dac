/* src/kube/hpa*.c: Kubernetes' HPA algorithm on numbers (the replica
 * calculator's tolerance, unready and missing pods, missing requests; the
 * stabilization windows and the scaling policies), the defaults and the
 * autoscaling/v1 conversion. The expected values follow Kubernetes'
 * replica_calculator_test.go and horizontal_test.go cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/hpa.h"
#include "kube/hpa_sync.h"
#include "kube/manifest.h"
#include "kube/metrics.h"

static const kube_hpa_metric cpu50 = { KUBE_HPA_CPU, true, 50, 0 };

static kube_hpa_pod pod(const char *name, int64_t usage, int64_t request)
{
	return (kube_hpa_pod){
		.name = name, .running = true, .ready = true, .has_metric = true, .usage = usage, .request = request
	};
}

static int calc(const kube_hpa_metric *m, kube_hpa_pod *pods, size_t n, int current)
{
	kube_hpa_result r;
	int rc = kube_hpa_calculate(m, pods, n, current, KUBE_HPA_TOLERANCE, &r);
	if (rc < 0) {
		fprintf(stderr, "error: %s\n", r.error);
		return -1;
	}
	return r.replicas;
}

/* ---- the replica calculator */

static void test_scale_up_by_ratio(void **state)
{
	(void)state;
	kube_hpa_pod p[3] = { pod("a", 90, 100), pod("b", 90, 100), pod("c", 90, 100) };
	kube_hpa_result r;
	/* 90% against 50%: ceil(3 x 1.8) */
	assert_int_equal(kube_hpa_calculate(&cpu50, p, 3, 3, KUBE_HPA_TOLERANCE, &r), 0);
	assert_int_equal(r.replicas, 6);
	assert_int_equal(r.utilization, 90);
	assert_int_equal(r.average, 90);
}

static void test_tolerance(void **state)
{
	(void)state;
	kube_hpa_pod within[2] = { pod("a", 54, 100), pod("b", 54, 100) }; /* 54/50 = 1.08 */
	kube_hpa_pod beyond[2] = { pod("a", 56, 100), pod("b", 56, 100) }; /* 1.12 */
	kube_hpa_pod below[2] = { pod("a", 46, 100), pod("b", 46, 100) };  /* 0.92 */
	kube_hpa_pod down[4] = { pod("a", 10, 100), pod("b", 10, 100), pod("c", 10, 100), pod("d", 10, 100) };
	assert_int_equal(calc(&cpu50, within, 2, 2), 2);
	assert_int_equal(calc(&cpu50, beyond, 2, 2), 3);
	assert_int_equal(calc(&cpu50, below, 2, 2), 2);
	/* 10% of 50%: ceil(4 x 0.2) */
	assert_int_equal(calc(&cpu50, down, 4, 4), 1);
}

static void test_unready_pods_on_scale_up(void **state)
{
	(void)state;
	/* two ready pods at 100%, one not ready: counted at 0% on a scale-up,
	 * (100 + 100 + 0) / 300 = 66% -> 1.32 -> ceil(3 x 1.32) = 4 */
	kube_hpa_pod p[3] = { pod("a", 100, 100), pod("b", 100, 100), pod("c", 400, 100) };
	p[2].ready = false;
	assert_int_equal(calc(&cpu50, p, 3, 3), 4);
	/* a pending pod (not running) counts at 0% too */
	p[2].ready = true;
	p[2].running = false;
	p[2].has_metric = false;
	assert_int_equal(calc(&cpu50, p, 3, 3), 4);
	/* on a scale-down, unready pods are left out: 2 x 20% -> ceil(2 x 0.4) */
	kube_hpa_pod q[3] = { pod("a", 20, 100), pod("b", 20, 100), pod("c", 400, 100) };
	q[2].ready = false;
	assert_int_equal(calc(&cpu50, q, 3, 3), 1);
	/* memory ignores readiness: (20 + 20 + 400) / 300 = 146% -> 2.92 ->
	 * ceil(3 x 2.92) */
	kube_hpa_metric mem = { KUBE_HPA_MEMORY, true, 50, 0 };
	assert_int_equal(calc(&mem, q, 3, 3), 9);
}

static void test_missing_metrics(void **state)
{
	(void)state;
	/* scale-down with a pod without metrics: it counts as 100% of its
	 * request: (10 x 3 + 100) / 400 = 32% -> 0.64 -> ceil(4 x 0.64) = 3 */
	kube_hpa_pod p[4] = { pod("a", 10, 100), pod("b", 10, 100), pod("c", 10, 100), pod("d", 0, 100) };
	p[3].has_metric = false;
	assert_int_equal(calc(&cpu50, p, 4, 4), 3);
	/* scale-up with a pod without metrics: it counts as 0%:
	 * (100 x 3 + 0) / 400 = 75% -> 1.5 -> ceil(4 x 1.5) = 6 */
	kube_hpa_pod q[4] = { pod("a", 100, 100), pod("b", 100, 100), pod("c", 100, 100), pod("d", 0, 100) };
	q[3].has_metric = false;
	assert_int_equal(calc(&cpu50, q, 4, 4), 6);
	/* the fill-in flips the direction: no change. 2 pods at 45%, 2
	 * missing: (45+45+100+100)/400 = 72% > 50% although the ratio was 0.9 */
	kube_hpa_pod f[4] = { pod("a", 45, 100), pod("b", 45, 100), pod("c", 0, 100), pod("d", 0, 100) };
	f[2].has_metric = f[3].has_metric = false;
	assert_int_equal(calc(&cpu50, f, 4, 4), 4);
}

static void test_errors(void **state)
{
	(void)state;
	kube_hpa_result r;
	kube_hpa_pod p[2] = { pod("web-1", 10, 100), pod("web-2", 10, 0) };
	p[1].missing_request = "app";
	assert_int_equal(kube_hpa_calculate(&cpu50, p, 2, 2, KUBE_HPA_TOLERANCE, &r), -1);
	assert_string_equal(r.error, "missing request for cpu in container app of Pod web-2");
	p[1].missing_request = NULL;
	p[0].running = p[1].running = false;
	assert_int_equal(kube_hpa_calculate(&cpu50, p, 2, 2, KUBE_HPA_TOLERANCE, &r), -1);
	assert_string_equal(r.error, "did not receive metrics for targeted pods (pods might be unready)");
	assert_int_equal(kube_hpa_calculate(&cpu50, p, 0, 0, KUBE_HPA_TOLERANCE, &r), -1);
	assert_string_equal(r.error, "no pods returned by selector while calculating replica count");
}

static void test_average_value(void **state)
{
	(void)state;
	/* memory averageValue 100 Mi: pods at 150 and 250 Mi -> 200 / 100 -> 4 */
	kube_hpa_metric m = { KUBE_HPA_MEMORY, false, 0, 100 << 20 };
	kube_hpa_pod p[2] = { pod("a", 150 << 20, 0), pod("b", 250 << 20, 0) };
	kube_hpa_result r;
	assert_int_equal(kube_hpa_calculate(&m, p, 2, 2, KUBE_HPA_TOLERANCE, &r), 0);
	assert_int_equal(r.replicas, 4);
	assert_int_equal(r.average, 200 << 20);
	/* a pod without metrics on a scale-down counts at the target */
	kube_hpa_pod q[3] = { pod("a", 10 << 20, 0), pod("b", 10 << 20, 0), pod("c", 0, 0) };
	q[2].has_metric = false;
	assert_int_equal(calc(&m, q, 3, 3), 2); /* (10+10+100)/3 = 40 -> 0.4 -> ceil(1.2) */
}

/* ---- the normalization */

static kube_hpa_spec spec_with(const char *behavior_json, int min, int max)
{
	kube_hpa_spec s;
	berth_error *err = NULL;
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\": \"autoscaling/v2\", \"kind\": \"HorizontalPodAutoscaler\", \"metadata\": "
		 "{\"name\": \"h\"}, \"spec\": {\"scaleTargetRef\": {\"kind\": \"Deployment\", \"name\": \"web\"}, "
		 "\"minReplicas\": %d, \"maxReplicas\": %d%s%s}}",
		 min, max, behavior_json ? ", \"behavior\": " : "", behavior_json ? behavior_json : "");
	json_t *hpa = json_loads(text, 0, NULL);
	assert_non_null(hpa);
	assert_int_equal(kube_validate_hpa(hpa, &err), 0);
	assert_int_equal(kube_hpa_spec_read(hpa, &s, &err), 0);
	json_decref(hpa);
	return s;
}

static void test_defaults(void **state)
{
	(void)state;
	kube_hpa_spec s = spec_with(NULL, 1, 10);
	assert_string_equal(s.target, "web");
	assert_int_equal(s.n_metrics, 1);
	assert_int_equal(s.metrics[0].resource, KUBE_HPA_CPU);
	assert_int_equal(s.metrics[0].target_percent, 80);
	assert_int_equal(s.up.window_s, 0);
	assert_int_equal(s.down.window_s, 300);
	assert_int_equal(s.up.n_policies, 2);
	assert_int_equal(s.down.n_policies, 1);
	assert_int_equal(s.down.policies[0].type, KUBE_HPA_PERCENT);
	assert_int_equal(s.down.policies[0].value, 100);
	assert_int_equal(s.down.policies[0].period_s, 15);
}

static void test_v1_conversion(void **state)
{
	(void)state;
	berth_error *err = NULL;
	kube_hpa_spec s;
	json_t *hpa = json_loads("{\"apiVersion\": \"autoscaling/v1\", \"kind\": \"HorizontalPodAutoscaler\", "
				 "\"metadata\": {\"name\": \"h\"}, \"spec\": {\"scaleTargetRef\": {\"kind\": "
				 "\"Deployment\", \"name\": \"web\"}, \"maxReplicas\": 5, "
				 "\"targetCPUUtilizationPercentage\": 70}}",
				 0, NULL);
	assert_int_equal(kube_validate_hpa(hpa, &err), 0);
	assert_string_equal(json_string_value(json_object_get(hpa, "apiVersion")), "autoscaling/v2");
	assert_null(json_object_get(json_object_get(hpa, "spec"), "targetCPUUtilizationPercentage"));
	assert_int_equal(kube_hpa_spec_read(hpa, &s, &err), 0);
	assert_int_equal(s.metrics[0].target_percent, 70);
	assert_int_equal(s.min_replicas, 1);
	json_decref(hpa);
}

static void test_scale_down_stabilization(void **state)
{
	(void)state;
	kube_hpa_spec s = spec_with(NULL, 1, 10);
	kube_hpa_history h = { 0 };
	kube_hpa_decision d;
	int64_t t = 1000000000;
	/* recommendations 5, then 2: the highest of the last 300 s wins */
	assert_int_equal(kube_hpa_normalize(&s, &h, 5, 5, t, &d), 0);
	assert_int_equal(d.replicas, 5);
	assert_int_equal(kube_hpa_normalize(&s, &h, 5, 2, t + 60000, &d), 0);
	assert_int_equal(d.replicas, 5);
	assert_string_equal(d.able_reason, "ScaleDownStabilized");
	/* once the 5 is older than the window, 2 goes through (100% per 15 s
	 * allows it) */
	assert_int_equal(kube_hpa_normalize(&s, &h, 5, 2, t + 301000, &d), 0);
	assert_int_equal(d.replicas, 2);
	assert_string_equal(d.able_reason, "ReadyForNewScale");
	assert_false(d.limited);
	kube_hpa_history_free(&h);
}

static void test_scale_up_stabilization(void **state)
{
	(void)state;
	kube_hpa_spec s = spec_with("{\"scaleUp\": {\"stabilizationWindowSeconds\": 60}}", 1, 10);
	kube_hpa_history h = { 0 };
	kube_hpa_decision d;
	int64_t t = 1000000000;
	/* the lowest recommendation of the last 60 s wins on a scale-up */
	assert_int_equal(kube_hpa_normalize(&s, &h, 2, 2, t, &d), 0);
	assert_int_equal(kube_hpa_normalize(&s, &h, 2, 6, t + 10000, &d), 0);
	assert_int_equal(d.replicas, 2);
	assert_string_equal(d.able_reason, "ScaleUpStabilized");
	assert_int_equal(kube_hpa_normalize(&s, &h, 2, 6, t + 61000, &d), 0);
	assert_int_equal(d.replicas, 6);
	kube_hpa_history_free(&h);
}

static void test_scale_up_policies(void **state)
{
	(void)state;
	kube_hpa_spec s = spec_with(NULL, 1, 100);
	kube_hpa_history h = { 0 };
	kube_hpa_decision d;
	int64_t t = 1000000000;
	/* default: max(current + 4, current x 2) per 15 s */
	assert_int_equal(kube_hpa_normalize(&s, &h, 2, 20, t, &d), 0);
	assert_int_equal(d.replicas, 6);
	assert_true(d.limited);
	assert_string_equal(d.limit_reason, "ScaleUpLimit");
	assert_int_equal(kube_hpa_record_scale(&s, &h, 2, 6, t), 0);
	/* 5 s later the period still holds the +4: no further than 6 */
	assert_int_equal(kube_hpa_normalize(&s, &h, 6, 20, t + 5000, &d), 0);
	assert_int_equal(d.replicas, 6);
	/* after the period: max(6 + 4, 6 x 2) */
	assert_int_equal(kube_hpa_normalize(&s, &h, 6, 20, t + 16000, &d), 0);
	assert_int_equal(d.replicas, 12);
	kube_hpa_history_free(&h);

	/* selectPolicy Min takes the smaller change: min(2 + 4, 2 x 2) */
	kube_hpa_spec m = spec_with("{\"scaleUp\": {\"selectPolicy\": \"Min\"}}", 1, 100);
	assert_int_equal(kube_hpa_normalize(&m, &h, 2, 20, t, &d), 0);
	assert_int_equal(d.replicas, 4);
	kube_hpa_history_free(&h);
	/* Disabled: no scale-up at all */
	kube_hpa_spec off = spec_with("{\"scaleUp\": {\"selectPolicy\": \"Disabled\"}}", 1, 100);
	assert_int_equal(kube_hpa_normalize(&off, &h, 2, 20, t, &d), 0);
	assert_int_equal(d.replicas, 2);
	kube_hpa_history_free(&h);
	/* maxReplicas below the rate limit: TooManyReplicas */
	kube_hpa_spec low = spec_with(NULL, 1, 3);
	assert_int_equal(kube_hpa_normalize(&low, &h, 2, 20, t, &d), 0);
	assert_int_equal(d.replicas, 3);
	assert_string_equal(d.limit_reason, "TooManyReplicas");
	kube_hpa_history_free(&h);
}

static void test_scale_down_policies(void **state)
{
	(void)state;
	kube_hpa_spec s = spec_with("{\"scaleDown\": {\"stabilizationWindowSeconds\": 0, \"policies\": [{\"type\": "
				    "\"Pods\", \"value\": 1, \"periodSeconds\": 60}]}}",
				    1, 10);
	kube_hpa_history h = { 0 };
	kube_hpa_decision d;
	int64_t t = 1000000000;
	assert_int_equal(kube_hpa_normalize(&s, &h, 5, 1, t, &d), 0);
	assert_int_equal(d.replicas, 4);
	assert_string_equal(d.limit_reason, "ScaleDownLimit");
	assert_int_equal(kube_hpa_record_scale(&s, &h, 5, 4, t), 0);
	/* within the minute: no further */
	assert_int_equal(kube_hpa_normalize(&s, &h, 4, 1, t + 30000, &d), 0);
	assert_int_equal(d.replicas, 4);
	assert_int_equal(kube_hpa_normalize(&s, &h, 4, 1, t + 61000, &d), 0);
	assert_int_equal(d.replicas, 3);
	kube_hpa_history_free(&h);
	/* below minReplicas: TooFewReplicas */
	kube_hpa_spec floor = spec_with("{\"scaleDown\": {\"stabilizationWindowSeconds\": 0}}", 2, 10);
	assert_int_equal(kube_hpa_normalize(&floor, &h, 4, 0, t, &d), 0);
	assert_int_equal(d.replicas, 2);
	assert_string_equal(d.limit_reason, "TooFewReplicas");
	kube_hpa_history_free(&h);
}

static void test_history_json(void **state)
{
	(void)state;
	kube_hpa_spec s = spec_with(NULL, 1, 10);
	kube_hpa_history h = { 0 }, back;
	kube_hpa_decision d;
	assert_int_equal(kube_hpa_normalize(&s, &h, 2, 3, 5000, &d), 0);
	assert_int_equal(kube_hpa_record_scale(&s, &h, 2, 3, 5000), 0);
	json_t *j = kube_hpa_history_to_json(&h);
	kube_hpa_history_from_json(j, &back);
	assert_int_equal(back.n_recommendations, 1);
	assert_int_equal(back.recommendations[0].value, 3);
	assert_int_equal(back.n_up, 1);
	assert_int_equal(back.up_events[0].at_ms, 5000);
	json_decref(j);
	kube_hpa_history_free(&h);
	kube_hpa_history_free(&back);
}

static void test_pod_requests(void **state)
{
	(void)state;
	const char *missing;
	json_t *pod = json_loads("{\"spec\": {\"containers\": [{\"name\": \"a\", \"resources\": {\"requests\": "
				 "{\"cpu\": \"20m\", \"memory\": \"64Mi\"}}}, {\"name\": \"b\", \"resources\": "
				 "{\"limits\": {\"cpu\": \"0.5\"}}}]}}",
				 0, NULL);
	/* a limit stands for a missing request */
	assert_int_equal(kube_hpa_pod_request(pod, "cpu", &missing), 520);
	assert_null(missing);
	assert_int_equal(kube_hpa_pod_request(pod, "memory", &missing), -1);
	assert_string_equal(missing, "b");
	json_decref(pod);
}

static void test_stats_v1_v2(void **state)
{
	(void)state;
	int64_t cpu, ws;
	/* cgroup v1: cpuacct.usage in ns, memory.usage_in_bytes less
	 * total_inactive_file */
	json_t *v1 = json_loads("{\"cpu\": {\"usage\": {\"total\": 2500000000}}, \"memory\": {\"usage\": "
				"{\"usage\": 10485760}, \"raw\": {\"inactive_file\": 1, \"total_inactive_file\": "
				"4194304}}}",
				0, NULL);
	/* cgroup v2: cpu.stat usage_usec x 1000, memory.current less
	 * inactive_file */
	json_t *v2 = json_loads("{\"cpu\": {\"usage\": {\"total\": 7000}}, \"memory\": {\"usage\": {\"usage\": "
				"8192}, \"raw\": {\"inactive_file\": 4096}}}",
				0, NULL);
	json_t *none = json_loads("{\"cpu\": {}}", 0, NULL);
	assert_true(kube_metrics_from_stats(v1, &cpu, &ws));
	assert_int_equal(cpu, 2500000000LL);
	assert_int_equal(ws, 6291456);
	assert_true(kube_metrics_from_stats(v2, &cpu, &ws));
	assert_int_equal(cpu, 7000);
	assert_int_equal(ws, 4096);
	assert_false(kube_metrics_from_stats(none, &cpu, &ws));
	json_decref(v1);
	json_decref(v2);
	json_decref(none);

	/* two samples 2 s apart with 1 s of cpu: 500 millicores */
	kube_usage a = { .valid = true, .cpu_ns = 1000000000, .at_ns = 10000000000LL };
	kube_usage b = { .valid = true, .cpu_ns = 2000000000, .at_ns = 12000000000LL };
	assert_int_equal(kube_metrics_millicores(&a, &b), 500);
	/* a counter that went back (a restart) cannot be compared */
	kube_usage restarted = { .valid = true, .cpu_ns = 1000, .at_ns = 14000000000LL };
	assert_int_equal(kube_metrics_millicores(&b, &restarted), -1);
}

static char *manifest_error(const char *text)
{
	kube_manifest m = { 0 };
	berth_error *err = NULL;
	char *msg;
	assert_true(kube_manifest_add_text(&m, text, strlen(text), "h.yaml", "default", &err) < 0);
	msg = strdup(err->msg);
	berth_error_free(&err);
	kube_manifest_free(&m);
	return msg;
}

static void test_manifest(void **state)
{
	(void)state;
	static const char head[] = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
				   "spec:\n  scaleTargetRef: {kind: Deployment, name: web}\n  maxReplicas: 3\n";
	char text[1024];
	char *msg;
	kube_manifest m = { 0 };
	berth_error *err = NULL;

	snprintf(text, sizeof(text), "%s", head);
	assert_int_equal(kube_manifest_add_text(&m, text, strlen(text), "h.yaml", "default", &err), 0);
	assert_string_equal(m.objects[0].kind, "HorizontalPodAutoscaler");
	assert_string_equal(m.objects[0].api_version, "autoscaling/v2");
	kube_manifest_free(&m);

	snprintf(text, sizeof(text), "%s  metrics:\n  - type: Pods\n    pods: {metric: {name: rps}}\n", head);
	msg = manifest_error(text);
	assert_non_null(strstr(msg, "h.yaml:9: document 1 (HorizontalPodAutoscaler h): spec.metrics[0].pods: not "
				    "supported by berth"));
	free(msg);
	snprintf(text, sizeof(text), "%s  metrics:\n  - type: Object\n", head);
	msg = manifest_error(text);
	assert_non_null(strstr(msg, "spec.metrics[0].type: Object metrics are not supported by berth"));
	free(msg);
	snprintf(text, sizeof(text),
		 "%s  metrics:\n  - type: Resource\n    resource: {name: gpu, target: {type: "
		 "Utilization, averageUtilization: 50}}\n",
		 head);
	msg = manifest_error(text);
	assert_non_null(strstr(msg, "spec.metrics[0].resource.name: \"gpu\" is not supported by berth"));
	free(msg);
	msg = manifest_error("apiVersion: autoscaling/v2beta1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n");
	assert_non_null(strstr(msg, "apiVersion: autoscaling/v2beta1 is not served for kind HorizontalPodAutoscaler "
				    "(use autoscaling/v2)"));
	free(msg);
	snprintf(text, sizeof(text), "%s  behavior:\n    scaleDown: {stabilizationWindowSeconds: 4000}\n", head);
	msg = manifest_error(text);
	assert_non_null(strstr(msg, "spec.behavior.scaleDown.stabilizationWindowSeconds: must be less than or equal "
				    "to 3600"));
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_up_by_ratio),
		cmocka_unit_test(test_tolerance),
		cmocka_unit_test(test_unready_pods_on_scale_up),
		cmocka_unit_test(test_missing_metrics),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_average_value),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_v1_conversion),
		cmocka_unit_test(test_scale_down_stabilization),
		cmocka_unit_test(test_scale_up_stabilization),
		cmocka_unit_test(test_scale_up_policies),
		cmocka_unit_test(test_scale_down_policies),
		cmocka_unit_test(test_history_json),
		cmocka_unit_test(test_pod_requests),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_stats_v1_v2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
