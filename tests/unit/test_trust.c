/* Unit tests of image trust: containers-policy.json parsing and validation
 * (errors name the JSON path), scope lookup (most specific wins), the
 * signedIdentity rules, simple-signing payloads, and GPG verification with
 * librnp (fixed keys and signatures). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/digest.h"
#include "image/trust_internal.h"
#include "util/fs.h"

#define ACCEPT "[{\"type\":\"insecureAcceptAnything\"}]"
#define REJECT "[{\"type\":\"reject\"}]"
#define KEY    "\"keyType\":\"GPGKeys\",\"keyPath\":\"/k.gpg\""

static int parse(const char *text, trust_policy *p, berth_error **err)
{
	return trust_policy_parse(text, strlen(text), "/p.json", p, err);
}

/* TEXT fails to parse with an error containing WANT. */
static void assert_policy_error(const char *text, const char *want)
{
	berth_error *err = NULL;
	trust_policy p;

	assert_int_not_equal(parse(text, &p, &err), 0);
	assert_non_null(err);
	if (strstr(err->msg, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err->msg, want);
	assert_non_null(strstr(err->msg, "/p.json"));
	berth_error_free(&err);
}

static void test_policy_minimal(void **state)
{
	berth_error *err = NULL;
	trust_policy p;
	const char *scope = "x";

	assert_int_equal(parse("{\"default\":" REJECT "}", &p, &err), 0);
	const trust_scope *s = trust_policy_lookup(&p, "docker", "docker.io/library/busybox:latest", &scope);
	assert_null(scope);
	assert_int_equal(s->n_requirements, 1);
	assert_int_equal(s->requirements[0].type, TRUST_REJECT);
	trust_policy_free(&p);
}

static void test_policy_signed_by_fields(void **state)
{
	berth_error *err = NULL;
	trust_policy p;
	const char *text =
	    "{\"default\":" REJECT ",\"transports\":{\"docker\":{\"reg.example.com/team\":["
	    "{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPaths\":[\"/a.gpg\",\"/b.gpg\"],"
	    "\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":\"reg.example.com/team\",\"signedPrefix\":"
	    "\"vendor.example.com\"}},"
	    "{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyData\":\"aGVsbG8=\"},"
	    "{\"type\":\"sigstoreSigned\",\"keyPath\":\"/"
	    "c.pub\",\"signedIdentity\":{\"type\":\"matchRepository\"}}]}}}";

	assert_int_equal(parse(text, &p, &err), 0);
	const trust_scope *s = trust_policy_lookup(&p, "docker", "reg.example.com/team/app:v1", NULL);
	assert_int_equal(s->n_requirements, 3);
	assert_int_equal(s->requirements[0].type, TRUST_SIGNED_BY);
	assert_string_equal(s->requirements[0].key_paths[0], "/a.gpg");
	assert_string_equal(s->requirements[0].key_paths[1], "/b.gpg");
	assert_null(s->requirements[0].key_paths[2]);
	assert_int_equal(s->requirements[0].identity.type, TRUST_REMAP_IDENTITY);
	assert_int_equal(s->requirements[1].key_data_len, 5);
	assert_memory_equal(s->requirements[1].key_data, "hello", 5);
	assert_int_equal(s->requirements[1].identity.type, TRUST_MATCH_REPO_DIGEST_OR_EXACT);
	assert_int_equal(s->requirements[2].type, TRUST_SIGSTORE_SIGNED);
	assert_int_equal(s->requirements[2].identity.type, TRUST_MATCH_REPOSITORY);
	assert_true(trust_scope_needs_signatures(s));
	trust_policy_free(&p);
}

static void test_policy_errors(void **state)
{
	assert_policy_error("{", "line 1");
	assert_policy_error("{}", "default: missing");
	assert_policy_error("{\"default\":[]}", "default: must be a non-empty array");
	assert_policy_error("{\"default\":" ACCEPT ",\"extra\":1}", "unknown field \"extra\"");
	assert_policy_error("{\"default\":[{\"type\":\"acceptAll\"}]}", "default[0]: unknown requirement type");
	assert_policy_error("{\"default\":[{\"type\":\"reject\",\"keyPath\":\"/x\"}]}",
			    "default[0]: unknown field \"keyPath\"");
	assert_policy_error("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\"}]}",
			    "default[0]: exactly one of keyPath, keyPaths, keyData");
	assert_policy_error("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/a\","
			    "\"keyData\":\"aGk=\"}]}",
			    "exactly one of");
	assert_policy_error("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"X509\",\"keyPath\":\"/a\"}]}",
			    "keyType must be \"GPGKeys\"");
	assert_policy_error("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPaths\":[\"/a\"]}]}",
			    "unknown field \"keyPaths\"");
	assert_policy_error("{\"default\":" ACCEPT ",\"transports\":{\"docker\":{\"busybox\":" ACCEPT "}}}",
			    "transports.docker[\"busybox\"]: invalid scope");
	assert_policy_error("{\"default\":" ACCEPT ",\"transports\":{\"nope\":{}}}",
			    "transports.nope: unknown transport");
	assert_policy_error(
	    "{\"default\":" ACCEPT ",\"transports\":{\"docker\":{\"docker.io\":[{\"type\":\"signedBy\"," KEY
	    ",\"signedIdentity\":{\"type\":\"exactReference\",\"dockerReference\":\"docker.io/a/b\"}}]}}}",
	    "transports.docker[\"docker.io\"][0].signedIdentity: dockerReference");
	assert_policy_error(
	    "{\"default\":[{\"type\":\"signedBy\"," KEY
	    ",\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":\"x\",\"signedPrefix\":\"y.io\"}}]}",
	    "prefix \"x\"");
	assert_policy_error("{\"default\":[{\"type\":\"signedBy\"," KEY
			    ",\"signedIdentity\":{\"type\":\"matchAll\"}}]}",
			    "unknown identity type");
	assert_policy_error("{\"default\":" ACCEPT ",\"default\":" REJECT "}", "duplicate");
}

static void test_policy_scopes(void **state)
{
	berth_error *err = NULL;
	trust_policy p;
	const char *scope;
	const char *text = "{\"default\":" REJECT ",\"transports\":{\"docker\":{"
			   "\"\":" ACCEPT ","
			   "\"reg.io\":" REJECT ","
			   "\"reg.io/ns\":" ACCEPT ","
			   "\"reg.io/ns/app\":" REJECT ","
			   "\"reg.io/ns/app:v1\":" ACCEPT ","
			   "\"*.example.com\":" REJECT ","
			   "\"127.0.0.1:5000\":" ACCEPT "},"
			   "\"docker-archive\":{\"\":" REJECT "}}}";

	assert_int_equal(parse(text, &p, &err), 0);
	trust_policy_lookup(&p, "docker", "reg.io/ns/app:v1", &scope);
	assert_string_equal(scope, "reg.io/ns/app:v1");
	trust_policy_lookup(&p, "docker", "reg.io/ns/app:v2", &scope);
	assert_string_equal(scope, "reg.io/ns/app");
	trust_policy_lookup(&p, "docker",
			    "reg.io/ns/other/deep@sha256:"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			    &scope);
	assert_string_equal(scope, "reg.io/ns");
	trust_policy_lookup(&p, "docker", "reg.io/nsx/app:v1", &scope);
	assert_string_equal(scope, "reg.io");
	trust_policy_lookup(&p, "docker", "a.b.example.com/x:1", &scope);
	assert_string_equal(scope, "*.example.com");
	trust_policy_lookup(&p, "docker", "127.0.0.1:5000/team/app:latest", &scope);
	assert_string_equal(scope, "127.0.0.1:5000");
	trust_policy_lookup(&p, "docker", "docker.io/library/busybox:latest", &scope);
	assert_string_equal(scope, "");
	const trust_scope *s = trust_policy_lookup(&p, "docker-archive", NULL, &scope);
	assert_string_equal(scope, "");
	assert_int_equal(s->requirements[0].type, TRUST_REJECT);
	s = trust_policy_lookup(&p, "oci-archive", NULL, &scope);
	assert_null(scope);
	assert_int_equal(s->requirements[0].type, TRUST_REJECT);
	trust_policy_free(&p);
}

static void test_policy_load_default(void **state)
{
	berth_error *err = NULL;
	trust_policy p;
	char dir[] = "/tmp/berth-trust-XXXXXX", path[64];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.json", dir);
	/* an explicit file must exist */
	assert_int_not_equal(trust_policy_load(path, false, &p, &err), 0);
	assert_non_null(strstr(err->msg, "none.json"));
	berth_error_free(&err);
	/* the user's file wins when rootless */
	setenv("XDG_CONFIG_HOME", dir, 1);
	snprintf(path, sizeof(path), "%s/containers", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/containers/policy.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"default\":" REJECT "}", f);
	fclose(f);
	assert_int_equal(trust_policy_load(NULL, true, &p, &err), 0);
	assert_string_equal(p.path, path);
	assert_int_equal(p.default_scope.requirements[0].type, TRUST_REJECT);
	trust_policy_free(&p);
	unlink(path);
	snprintf(path, sizeof(path), "%s/containers", dir);
	rmdir(path);
	rmdir(dir);
}

/* ---- identities ---- */

static bool matches(trust_identity_type type, const char *intended, const char *signature)
{
	trust_identity rule = { .type = type };
	return trust_identity_matches(&rule, intended, signature);
}

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_identity_rules(void **state)
{
	/* matchRepoDigestOrExact: a tag must match exactly, a digest only the repository */
	assert_true(matches(TRUST_MATCH_REPO_DIGEST_OR_EXACT, "docker.io/library/busybox:latest", "busybox:latest"));
	assert_false(matches(TRUST_MATCH_REPO_DIGEST_OR_EXACT, "docker.io/library/busybox:latest", "busybox:1.36"));
	assert_false(matches(TRUST_MATCH_REPO_DIGEST_OR_EXACT, "docker.io/library/busybox:latest", "busybox"));
	assert_true(matches(TRUST_MATCH_REPO_DIGEST_OR_EXACT, "reg.io/a/b@" DIGEST, "reg.io/a/b:v2"));
	assert_false(matches(TRUST_MATCH_REPO_DIGEST_OR_EXACT, "reg.io/a/b@" DIGEST, "reg.io/a/c:v2"));
	/* matchExact: a digest reference does not match a tagged signature */
	assert_true(matches(TRUST_MATCH_EXACT, "reg.io/a/b:v1", "reg.io/a/b:v1"));
	assert_false(matches(TRUST_MATCH_EXACT, "reg.io/a/b@" DIGEST, "reg.io/a/b:v1"));
	/* matchRepository */
	assert_true(matches(TRUST_MATCH_REPOSITORY, "reg.io/a/b:latest", "reg.io/a/b:v9"));
	assert_false(matches(TRUST_MATCH_REPOSITORY, "reg.io/a/b:latest", "reg.io/a/bb:latest"));
	assert_false(matches(TRUST_MATCH_REPOSITORY, "reg.io/a/b:latest", "not a reference"));

	trust_identity exact_ref = { .type = TRUST_EXACT_REFERENCE, .reference = "vendor.io/p/app:1.0" };
	assert_true(trust_identity_matches(&exact_ref, "mirror.io/app:whatever", "vendor.io/p/app:1.0"));
	assert_false(trust_identity_matches(&exact_ref, "mirror.io/app:whatever", "vendor.io/p/app:1.1"));
	trust_identity exact_repo = { .type = TRUST_EXACT_REPOSITORY, .reference = "vendor.io/p/app" };
	assert_true(trust_identity_matches(&exact_repo, "mirror.io/app:x", "vendor.io/p/app:1.1"));
	assert_false(trust_identity_matches(&exact_repo, "mirror.io/app:x", "vendor.io/p/other:1.1"));

	trust_identity remap = { .type = TRUST_REMAP_IDENTITY,
				 .prefix = "mirror.io:5000/vendor",
				 .signed_prefix = "vendor.example.com" };
	assert_true(
	    trust_identity_matches(&remap, "mirror.io:5000/vendor/prod/img:1", "vendor.example.com/prod/img:1"));
	assert_false(
	    trust_identity_matches(&remap, "mirror.io:5000/vendor/prod/img:1", "mirror.io:5000/vendor/prod/img:1"));
	/* "vendorx" is not below the prefix "vendor": no remapping, plain matchRepoDigestOrExact */
	assert_true(trust_identity_matches(&remap, "mirror.io:5000/vendorx/img:1", "mirror.io:5000/vendorx/img:1"));
}

static void test_identity_of(void **state)
{
	berth_error *err = NULL;
	char *id;

	id = trust_identity_of("busybox", &err);
	assert_string_equal(id, "docker.io/library/busybox:latest");
	free(id);
	id = trust_identity_of("127.0.0.1:5000/t/app:v1@" DIGEST, &err);
	assert_string_equal(id, "127.0.0.1:5000/t/app@" DIGEST);
	free(id);
	assert_null(trust_identity_of("UPPER", &err));
	berth_error_free(&err);
}

/* ---- payloads ---- */

static void test_payload_roundtrip(void **state)
{
	berth_error *err = NULL;
	trust_payload p;
	size_t len;
	char *text = trust_payload_create(TRUST_PAYLOAD_SIMPLE, "reg.io/a/b:v1", DIGEST, &len, &err);

	assert_non_null(text);
	assert_int_equal(trust_payload_parse(text, len, TRUST_PAYLOAD_SIMPLE, &p, &err), 0);
	assert_string_equal(p.docker_reference, "reg.io/a/b:v1");
	assert_string_equal(p.manifest_digest, DIGEST);
	trust_payload_free(&p);
	free(text);
}

static void assert_payload_refused(const char *text)
{
	berth_error *err = NULL;
	trust_payload p;

	assert_int_not_equal(trust_payload_parse(text, strlen(text), TRUST_PAYLOAD_SIMPLE, &p, &err), 0);
	assert_non_null(strstr(err->msg, "signature payload"));
	berth_error_free(&err);
}

static void test_payload_strict(void **state)
{
	assert_payload_refused("not json");
	assert_payload_refused("{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-"
			       "digest\":\"" DIGEST "\"},\"identity\":{\"docker-reference\":\"a:b\"},\"extra\":1}}");
	assert_payload_refused("{\"critical\":{\"type\":\"cosign container image signature\",\"image\":{\"docker-"
			       "manifest-digest\":\"" DIGEST "\"},\"identity\":{\"docker-reference\":\"a:b\"}}}");
	assert_payload_refused("{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-"
			       "digest\":\"sha256:abc\"},\"identity\":{\"docker-reference\":\"a:b\"}}}");
	assert_payload_refused("{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-"
			       "digest\":\"" DIGEST "\"},\"identity\":{\"docker-reference\":\"a:b\"}},\"more\":{}}");
}

/* ---- registries.d and the lookaside ---- */

static void test_registries_parse(void **state)
{
	berth_error *err = NULL;
	trust_registries r = { 0 };
	const char *a = "docker:\n"
			"  reg.io:\n"
			"    lookaside: https://sigs.reg.io\n"
			"  reg.io/team:\n"
			"    lookaside: file:///srv/sigs\n"
			"    lookaside-staging: file:///srv/staging/\n"
			"  reg.io/team/app:v1:\n"
			"    use-sigstore-attachments: true\n"
			"    unknown-key: ignored\n";
	const char *b = "default-docker:\n  sigstore: http://old.example/sigs\n";

	assert_int_equal(trust_registries_parse(a, strlen(a), "a.yaml", &r, &err), 0);
	assert_int_equal(trust_registries_parse(b, strlen(b), "b.yaml", &r, &err), 0);
	assert_string_equal(trust_registries_lookup(&r, "reg.io/team/app:v2")->lookaside, "file:///srv/sigs");
	assert_true(trust_registries_lookup(&r, "reg.io/team/app:v1")->use_sigstore_attachments);
	assert_null(trust_registries_lookup(&r, "reg.io/team/app:v1")->lookaside);
	assert_string_equal(trust_registries_lookup(&r, "reg.io/x:1")->lookaside, "https://sigs.reg.io");
	assert_string_equal(trust_registries_lookup(&r, "other.io/x:1")->lookaside, "http://old.example/sigs");

	char *base = trust_lookaside_base(&r, "reg.io/team/app:v2", false, false, &err);
	assert_string_equal(base, "file:///srv/sigs/team/app");
	free(base);
	base = trust_lookaside_base(&r, "reg.io/team/app:v2", true, false, &err);
	assert_string_equal(base, "file:///srv/staging/team/app");
	free(base);
	/* a section without a lookaside: the built-in directory */
	base = trust_lookaside_base(&r, "reg.io/team/app:v1", false, false, &err);
	assert_string_equal(base, "file:///var/lib/containers/sigstore/team/app");
	free(base);

	/* the same scope twice (across files) and a second default-docker are errors */
	assert_int_not_equal(trust_registries_parse(a, strlen(a), "c.yaml", &r, &err), 0);
	assert_non_null(strstr(err->msg, "c.yaml"));
	assert_non_null(strstr(err->msg, "more than once"));
	berth_error_free(&err);
	assert_int_not_equal(trust_registries_parse(b, strlen(b), "d.yaml", &r, &err), 0);
	berth_error_free(&err);
	assert_int_not_equal(trust_registries_parse("docker: [1, 2\n", 13, "e.yaml", &r, &err), 0);
	assert_non_null(strstr(err->msg, "e.yaml\": line"));
	berth_error_free(&err);
	trust_registries_free(&r);
}

static void test_lookaside_files(void **state)
{
	berth_error *err = NULL;
	trust_signatures sigs = { 0 };
	char dir[] = "/tmp/berth-trust-XXXXXX", base[96], digest[DIGEST_STRING_MAX] = "x";
	char cmd[160];

	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "file://%s/ns/app", dir);
	assert_int_equal(trust_lookaside_fetch(base, DIGEST, &sigs, &err), 0);
	assert_int_equal(sigs.n, 0);
	assert_int_equal(trust_lookaside_store(base, DIGEST, "one", 3, &err), 0);
	assert_int_equal(trust_lookaside_store(base, DIGEST, "two!", 4, &err), 0);
	assert_int_equal(trust_lookaside_fetch(base, DIGEST, &sigs, &err), 0);
	assert_int_equal(sigs.n, 2);
	assert_memory_equal(sigs.data[1], "two!", 4);
	snprintf(cmd, sizeof(cmd), "test -f %s/ns/app@sha256=%s/signature-2", dir, DIGEST + 7);
	assert_int_equal(system(cmd), 0);

	/* the record in the store: an image's signatures and the digest they sign */
	assert_int_equal(trust_record_save(dir, DIGEST,
					   "sha256:"
					   "ab",
					   &sigs, &err),
			 0);
	trust_signatures_free(&sigs);
	assert_int_not_equal(trust_record_load(dir, DIGEST, digest, &sigs, &err), 0); /* "sha256:ab" is no digest */
	berth_error_free(&err);
	trust_signatures_free(&sigs);
	assert_int_equal(trust_lookaside_store(base, DIGEST, "three", 5, &err), 0);
	assert_int_equal(trust_lookaside_fetch(base, DIGEST, &sigs, &err), 0);
	assert_int_equal(trust_record_save(dir, DIGEST, DIGEST, &sigs, &err), 0);
	trust_signatures_free(&sigs);
	assert_int_equal(trust_record_load(dir, DIGEST, digest, &sigs, &err), 0);
	assert_string_equal(digest, DIGEST);
	assert_int_equal(sigs.n, 3);
	assert_memory_equal(sigs.data[2], "three", 5);
	trust_signatures_free(&sigs);
	assert_int_not_equal(trust_lookaside_fetch("ftp://x", DIGEST, &sigs, &err), 0);
	berth_error_free(&err);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- verification results kept in the store ---- */

static void test_verified_cache(void **state)
{
	berth_error *err = NULL;
	char dir[] = "/tmp/berth-trust-XXXXXX", cmd[96];
	unsigned char key_bytes[] = "key one";
	trust_requirement one = { .type = TRUST_SIGNED_BY, .key_data = key_bytes, .key_data_len = 7 };
	trust_requirement two = { .type = TRUST_SIGNED_BY, .key_data = key_bytes, .key_data_len = 6 };
	trust_keys k1, k2;
	char *payload = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(trust_keys_read(&one, &k1, &err), 0);
	assert_int_equal(trust_keys_read(&two, &k2, &err), 0);
	assert_string_not_equal(k1.digest, k2.digest);
	assert_int_equal(trust_verified_lookup(dir, k1.digest, "sig", 3, &payload, &len), 0);
	trust_verified_save(dir, k1.digest, "sig", 3, "payload", 7, 0);
	assert_int_equal(trust_verified_lookup(dir, k1.digest, "sig", 3, &payload, &len), 1);
	assert_int_equal(len, 7);
	assert_string_equal(payload, "payload");
	free(payload);
	/* another key set, another signature: no result */
	assert_int_equal(trust_verified_lookup(dir, k2.digest, "sig", 3, &payload, &len), 0);
	assert_int_equal(trust_verified_lookup(dir, k1.digest, "sig!", 4, &payload, &len), 0);
	/* a result whose key (or signature) has expired is no result */
	trust_verified_save(dir, k2.digest, "sig", 3, "payload", 7, 1000);
	assert_int_equal(trust_verified_lookup(dir, k2.digest, "sig", 3, &payload, &len), 0);
	assert_null(payload);
	trust_keys_free(&k1);
	trust_keys_free(&k2);
	/* a missing key file is an error that names it */
	one = (trust_requirement){ .type = TRUST_SIGNED_BY, .key_paths = (char *[]){ "/nonexistent/k.gpg", NULL } };
	assert_int_not_equal(trust_keys_read(&one, &k1, &err), 0);
	assert_non_null(strstr(err->msg, "/nonexistent/k.gpg"));
	berth_error_free(&err);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- evaluation without signatures ---- */

static void test_check_without_signatures(void **state)
{
	berth_error *err = NULL;
	trust_policy p;
	trust_signatures none = { 0 };
	const char *text = "{\"default\":" ACCEPT ",\"transports\":{\"docker\":{\"reg.io/bad\":" REJECT
			   ",\"reg.io/signed\":[{\"type\":\"signedBy\"," KEY "}]}}}";

	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(trust_check(&p, NULL, "docker", "reg.io/good:1", DIGEST, &none, &err), 0);
	assert_int_not_equal(trust_check(&p, NULL, "docker", "reg.io/bad/x:1", DIGEST, &none, &err), 0);
	assert_non_null(strstr(err->msg, "scope \"reg.io/bad\" requirement 0 (reject)"));
	berth_error_free(&err);
	assert_int_not_equal(trust_check(&p, NULL, "docker", "reg.io/signed/x:1", DIGEST, &none, &err), 0);
	assert_non_null(strstr(err->msg, "no signature"));
	berth_error_free(&err);
	trust_policy_free(&p);
}

/* ---- sigstore: ECDSA P-256 through libcrypto ---- */

/* Made with gpg 2.2 for these tests: a key that does not expire and one made
 * on 2020-01-01 for a day (each signed "hello berth\n", the second while it
 * was valid). */
static const char KEY_VALID[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
				"\n"
				"mDMEaxaulhYJKwYBBAHaRw8BAQdAvt51r+6DY9ul0Yr8+uZq5FlWPv8+BCzYjfhH\n"
				"BjaUyLy0GXVuaXQgPHVuaXRAYmVydGguaW52YWxpZD6IkAQTFggAOBYhBGh/h37C\n"
				"Ee8QvIesUpTJy/vAUvVrBQJrFq6WAhsDBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheA\n"
				"AAoJEJTJy/vAUvVr4IoA/ApHIiw/EgS7FsxM6u2RqBrC0xlxm9tXk6z0jZ1lYNPr\n"
				"AQCk02GKF3sMrvdBC2ycDGRCRA+6CNnK5RynJzEJ71hwBg==\n"
				"=7+N1\n"
				"-----END PGP PUBLIC KEY BLOCK-----\n";
static const char KEY_EXPIRED[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
				  "\n"
				  "mDMEXgvhABYJKwYBBAHaRw8BAQdAFZvr97kAW1e0RBNKImhmGVQOvJonQsbbjICC\n"
				  "U3cUemW0KXVuaXQtZXhwaXJlZCA8dW5pdC1leHBpcmVkQGJlcnRoLmludmFsaWQ+\n"
				  "iJYEExYIAD4WIQQf6bcUNdQ5POhdOv5I0ULsgmV2uwUCXgvhAAIbAwUJAAFRgAUL\n"
				  "CQgHAgYVCgkICwIEFgIDAQIeAQIXgAAKCRBI0ULsgmV2u/DjAQDfIXYxZlsypmvn\n"
				  "FVCOTq2qaxRpfasdWgQ2yX1XqX1UZAEA1q6cwMBMUAea8VS0glEChRaoST1C5IBz\n"
				  "CPSKbVv98gA=\n"
				  "=mp+U\n"
				  "-----END PGP PUBLIC KEY BLOCK-----\n";
static const char SIG_VALID[] = "-----BEGIN PGP MESSAGE-----\n"
				"\n"
				"owGbwMvMwCE25eTp3weCvmYzrhFJYiotyBZbNy0jNScnXyEptagkg6ujk4VBjIPB\n"
				"UEyRJaO+ve6Q4HuBPe1rgmC6WJlAGoRlSvMySxzAOvQy88oSczJTGLg4BWCqmvMY\n"
				"GRYEWZ7dsFtt/VQjhg73dElm27oAp8VrS7x9zuxhXT33bTQjw+6kTkUx2Zhb28KP\n"
				"3ndJeO00z1qQTdit7DAjKxvn7SkNXAA=\n"
				"=n3z5\n"
				"-----END PGP MESSAGE-----\n";
static const char SIG_EXPIRED_KEY[] = "-----BEGIN PGP MESSAGE-----\n"
				      "\n"
				      "owGbwMvMwCHmcdHpTVNq2W7GNSJJTKUFcdzvBTJSc3LyFZJSi0oyuDomsjCIcTBY\n"
				      "iimyyL/cLmJ6xdLmRazVP5guViaQBmmZ0rzMEt3UioLMotQUB7BOvcy8ssSczBQG\n"
				      "Lk4BmGrfNkaGszZKFdtvezkuTTj0TzzhXKpkoLNez42U6ofXZ9hNmKTew8hwTSHb\n"
				      "YcvimbGrRG3cRK7/umOkNzFGd1f8ux5OE70QHj9+AA==\n"
				      "=ggti\n"
				      "-----END PGP MESSAGE-----\n";

/* A key ring of the armored key TEXT; NULL (the test skipped) without librnp. */
static trust_openpgp *ring_of(const char *text)
{
	trust_key_source src = { .what = "keyData", .data = (char *)text, .len = strlen(text) };
	trust_keys keys = { .items = &src, .n = 1 };
	trust_openpgp *k = NULL;
	berth_error *err = NULL;

	if (trust_openpgp_open_keyring(&keys, &k, &err) < 0) {
		if (err->code == ENOTSUP) {
			berth_error_free(&err);
			return NULL;
		}
		fail_msg("key ring: %s", err->msg);
	}
	return k;
}

/* Verifying SIG with K fails with an error containing WANT. */
static void assert_openpgp_error(trust_openpgp *k, const char *sig, const char *want)
{
	berth_error *err = NULL;
	char *payload = NULL;
	size_t len = 0;
	long long not_after = 0;

	assert_int_not_equal(trust_openpgp_verify(k, sig, strlen(sig), &payload, &len, &not_after, &err), 0);
	assert_null(payload);
	assert_non_null(err);
	if (strstr(err->msg, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err->msg, want);
	berth_error_free(&err);
}

static void test_openpgp_verify(void **state)
{
	trust_openpgp *valid = ring_of(KEY_VALID), *expired;
	trust_key_source junk = { .what = "key file \"/junk\"", .data = "not a key", .len = 9 };
	trust_keys junk_keys = { .items = &junk, .n = 1 };
	trust_openpgp *none = NULL;
	berth_error *err = NULL;
	char *payload = NULL;
	size_t len = 0;
	long long not_after = -1;

	(void)state;
	if (valid == NULL)
		skip();
	assert_int_equal(trust_openpgp_verify(valid, SIG_VALID, strlen(SIG_VALID), &payload, &len, &not_after, &err),
			 0);
	assert_string_equal(payload, "hello berth\n");
	assert_int_equal(len, 12);
	assert_int_equal(not_after, 0);
	free(payload);
	/* another key's signature; the expired key's own, made while it was
	 * valid: librnp alone accepts it, gpg does not */
	assert_openpgp_error(valid, SIG_EXPIRED_KEY,
			     "signed by 1FE9B71435D4393CE85D3AFE48D142EC826576BB, not by a key");
	expired = ring_of(KEY_EXPIRED);
	assert_openpgp_error(expired, SIG_EXPIRED_KEY,
			     "signature by 1FE9B71435D4393CE85D3AFE48D142EC826576BB: the key has expired");
	assert_openpgp_error(expired, "garbage", "not a valid OpenPGP signature");
	trust_openpgp_close(expired);
	trust_openpgp_close(valid);
	assert_int_not_equal(trust_openpgp_open_keyring(&junk_keys, &none, &err), 0);
	assert_null(none);
	assert_non_null(strstr(err->msg, "key file \"/junk\": no OpenPGP public key in it"));
	berth_error_free(&err);
}

static void test_sigstore_sign_verify(void **state)
{
	berth_error *err = NULL;
	char dir[] = "/tmp/berth-trust-XXXXXX", cmd[512], key[64], pub[64];
	unsigned char *sig = NULL;
	size_t sig_len = 0, pem_len = 0;
	char *pem = NULL;
	const char *payload = "{\"critical\":{}}";

	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/ec.key", dir);
	snprintf(pub, sizeof(pub), "%s/ec.pub", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl ecparam -name prime256v1 -genkey -noout -out %s 2>/dev/null && "
		 "openssl ec -in %s -pubout -out %s 2>/dev/null",
		 key, key, pub);
	if (system(cmd) != 0)
		skip();
	assert_int_equal(trust_sigstore_sign_raw(key, payload, strlen(payload), &sig, &sig_len, &err), 0);
	assert_int_equal(fs_read_file(pub, &pem, &pem_len, &err), 0);
	assert_int_equal(trust_sigstore_verify_raw(pem, pem_len, payload, strlen(payload), sig, sig_len, &err), 0);
	/* another payload, or a damaged signature, does not verify */
	assert_int_not_equal(trust_sigstore_verify_raw(pem, pem_len, "{}", 2, sig, sig_len, &err), 0);
	assert_non_null(strstr(err->msg, "does not verify"));
	berth_error_free(&err);
	sig[sig_len / 2] ^= 1;
	assert_int_not_equal(trust_sigstore_verify_raw(pem, pem_len, payload, strlen(payload), sig, sig_len, &err), 0);
	berth_error_free(&err);
	assert_int_not_equal(trust_sigstore_verify_raw("junk", 4, payload, strlen(payload), sig, sig_len, &err), 0);
	assert_non_null(strstr(err->msg, "not a PEM public key"));
	berth_error_free(&err);
	free(sig);
	sig = NULL;
	/* cosign's encrypted keys are named as such */
	FILE *f = fopen(key, "w");
	fputs("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_not_equal(trust_sigstore_sign_raw(key, payload, strlen(payload), &sig, &sig_len, &err), 0);
	assert_non_null(strstr(err->msg, "cosign's encrypted key format"));
	berth_error_free(&err);
	free(pem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_minimal),	     cmocka_unit_test(test_policy_signed_by_fields),
		cmocka_unit_test(test_policy_errors),	     cmocka_unit_test(test_policy_scopes),
		cmocka_unit_test(test_policy_load_default),  cmocka_unit_test(test_identity_rules),
		cmocka_unit_test(test_identity_of),	     cmocka_unit_test(test_payload_roundtrip),
		cmocka_unit_test(test_payload_strict),	     cmocka_unit_test(test_registries_parse),
		cmocka_unit_test(test_lookaside_files),	     cmocka_unit_test(test_check_without_signatures),
		cmocka_unit_test(test_sigstore_sign_verify), cmocka_unit_test(test_verified_cache),
		cmocka_unit_test(test_openpgp_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
