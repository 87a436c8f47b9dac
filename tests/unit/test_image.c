/* Unit tests of the image layer's parsers and the content store:
 * references, manifests/indexes/configs, platform selection, chain ids,
 * blob writers (verification, atomicity) and index.json names. */
#include <errno.h>
#include <fcntl.h>
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
#include "image/manifest.h"
#include "image/reference.h"
#include "image/store.h"
#include "util/fs.h"

/* ---- references ---- */

static void expect_ref(const char *text, const char *domain, const char *path, const char *tag, const char *digest)
{
	berth_error *err = NULL;
	image_ref r;

	if (image_ref_parse(text, &r, &err) < 0)
		fail_msg("%s: %s", text, err->msg);
	assert_string_equal(r.domain, domain);
	assert_string_equal(r.path, path);
	if (tag)
		assert_string_equal(r.tag, tag);
	else
		assert_null(r.tag);
	if (digest)
		assert_string_equal(r.digest, digest);
	else
		assert_null(r.digest);
	image_ref_free(&r);
}

static void expect_bad_ref(const char *text, const char *msg_part)
{
	berth_error *err = NULL;
	image_ref r;

	assert_true(image_ref_parse(text, &r, &err) < 0);
	assert_non_null(err);
	if (strstr(err->msg, msg_part) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, err->msg, msg_part);
	berth_error_free(&err);
}

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_reference_normalise(void **state)
{
	(void)state;
	expect_ref("busybox", "docker.io", "library/busybox", "latest", NULL);
	expect_ref("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL);
	expect_ref("team/app", "docker.io", "team/app", "latest", NULL);
	expect_ref("index.docker.io/library/alpine:3", "docker.io", "library/alpine", "3", NULL);
	expect_ref("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000", "team/app", "v1", NULL);
	expect_ref("localhost/app", "localhost", "app", "latest", NULL);
	expect_ref("quay.io/a/b/c:x_y-1.2", "quay.io", "a/b/c", "x_y-1.2", NULL);
	expect_ref("app@" D1, "docker.io", "library/app", NULL, D1);
	expect_ref("reg:5000/app:v2@" D1, "reg:5000", "app", "v2", D1);
	expect_ref("a__b/c-d.e", "docker.io", "a__b/c-d.e", "latest", NULL);
}

static void test_reference_names(void **state)
{
	berth_error *err = NULL;
	image_ref r;
	char *s;

	(void)state;
	assert_int_equal(image_ref_parse("127.0.0.1:5000/app@" D1, &r, &err), 0);
	s = image_ref_name(&r);
	assert_string_equal(s, "127.0.0.1:5000/app@" D1);
	free(s);
	s = image_ref_repository(&r);
	assert_string_equal(s, "127.0.0.1:5000/app");
	free(s);
	assert_string_equal(image_ref_registry_reference(&r), D1);
	image_ref_free(&r);
	assert_int_equal(image_ref_parse("busybox", &r, &err), 0);
	s = image_ref_name(&r);
	assert_string_equal(s, "docker.io/library/busybox:latest");
	free(s);
	assert_string_equal(image_ref_registry_reference(&r), "latest");
	image_ref_free(&r);
}

static void test_reference_bad(void **state)
{
	(void)state;
	expect_bad_ref("", "empty");
	expect_bad_ref("Busybox", "lowercase");
	expect_bad_ref("app:", "invalid tag");
	expect_bad_ref("app:-x", "invalid tag");
	expect_bad_ref("app@sha256:abc", "64 lowercase hex");
	expect_bad_ref("app@md5:d41d8cd98f00b204e9800998ecf8427e", "only sha256");
	expect_bad_ref("team//app", "invalid repository component");
	expect_bad_ref("app/", "ends with");
	expect_bad_ref("a..b", "invalid repository component");
	expect_bad_ref("-app", "invalid repository component");
}

/* ---- digests ---- */

static void test_digest(void **state)
{
	char out[DIGEST_STRING_MAX];
	berth_error *err = NULL;

	(void)state;
	digest_buffer("", 0, out);
	assert_string_equal(out, D1);
	digest_buffer("abc", 3, out);
	assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(digest_is_valid(D1));
	assert_false(digest_is_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	assert_false(digest_is_valid("sha512:e3"));
	assert_true(digest_validate("sha384:00", &err) < 0);
	assert_non_null(strstr(err->msg, "unsupported algorithm \"sha384\""));
	berth_error_free(&err);
}

/* ---- manifests ---- */

#define CFG_DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define L1	   "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define L2	   "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":100,\"digest\":\"" CFG_DIGEST
    "\"},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":10,"
    "\"digest\":\"" L1 "\"},{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"size\":20,\"digest\":\"" L2
    "\"}]}";

static void test_manifest_parse(void **state)
{
	berth_error *err = NULL;
	image_manifest m;
	manifest_kind kind;
	char *mt = NULL;

	(void)state;
	assert_int_equal(manifest_detect(NULL, docker_manifest, strlen(docker_manifest), &kind, &mt, &err), 0);
	assert_int_equal(kind, MANIFEST_KIND_IMAGE);
	assert_string_equal(mt, MEDIA_DOCKER_MANIFEST);
	free(mt);
	assert_int_equal(manifest_parse(docker_manifest, strlen(docker_manifest), &m, &err), 0);
	assert_string_equal(m.config.digest, CFG_DIGEST);
	assert_int_equal(m.n_layers, 2);
	assert_string_equal(m.layers[1].digest, L2);
	assert_int_equal(m.layers[1].size, 20);
	assert_true(layer_media_type_supported(m.layers[0].media_type));
	assert_true(layer_media_type_supported(m.layers[1].media_type));
	assert_false(layer_media_type_supported("application/vnd.example.other"));
	image_manifest_free(&m);
}

static void test_manifest_detect(void **state)
{
	static const char oci_no_type[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"size\":1,\"digest\":"
					  "\"" CFG_DIGEST "\"},\"layers\":[]}";
	static const char index_no_type[] = "{\"schemaVersion\":2,\"manifests\":[]}";
	static const char schema1[] = "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}";
	berth_error *err = NULL;
	manifest_kind kind;
	char *mt = NULL;

	(void)state;
	assert_int_equal(manifest_detect(NULL, oci_no_type, strlen(oci_no_type), &kind, &mt, &err), 0);
	assert_int_equal(kind, MANIFEST_KIND_IMAGE);
	assert_string_equal(mt, MEDIA_OCI_MANIFEST);
	free(mt);
	assert_int_equal(manifest_detect(NULL, index_no_type, strlen(index_no_type), &kind, NULL, &err), 0);
	assert_int_equal(kind, MANIFEST_KIND_INDEX);
	/* a Content-Type with parameters still names the type */
	assert_int_equal(manifest_detect(MEDIA_DOCKER_MANIFEST_LIST "; charset=utf-8", "{}", 2, &kind, NULL, &err), 0);
	assert_int_equal(kind, MANIFEST_KIND_INDEX);
	assert_true(manifest_detect(NULL, schema1, strlen(schema1), &kind, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "schema 1"));
	berth_error_free(&err);
	assert_true(manifest_detect("text/html", "<html>", 6, &kind, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "invalid JSON"));
	berth_error_free(&err);
}

static void test_manifest_bad(void **state)
{
	static const char bad_digest[] = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_MANIFEST
					 "\",\"config\":{\"mediaType\":\"x\",\"size\":1,\"digest\":\"sha256:zz\"},"
					 "\"layers\":[]}";
	static const char neg_size[] = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_MANIFEST
				       "\",\"config\":{\"mediaType\":\"x\",\"size\":1,\"digest\":\"" CFG_DIGEST "\"},"
				       "\"layers\":[{\"mediaType\":\"x\",\"size\":-1,\"digest\":\"" L1 "\"}]}";
	berth_error *err = NULL;
	image_manifest m;

	(void)state;
	assert_true(manifest_parse(bad_digest, strlen(bad_digest), &m, &err) < 0);
	assert_non_null(strstr(err->msg, "manifest: config.digest"));
	berth_error_free(&err);
	assert_true(manifest_parse(neg_size, strlen(neg_size), &m, &err) < 0);
	assert_non_null(strstr(err->msg, "layers[0].size"));
	berth_error_free(&err);
}

static const char index_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"" L1
    "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"" L2
    "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
    "{\"mediaType\":\"" MEDIA_OCI_MANIFEST "\",\"size\":1,\"digest\":\"" CFG_DIGEST
    "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}}]}";

static void test_index_select(void **state)
{
	berth_error *err = NULL;
	const oci_descriptor *d;
	image_index idx;
	oci_platform p;

	(void)state;
	assert_int_equal(index_parse(index_json, strlen(index_json), &idx, &err), 0);
	assert_int_equal(idx.n_manifests, 3);
	assert_int_equal(platform_parse("linux/amd64", &p, &err), 0);
	assert_int_equal(index_select(&idx, &p, &d, &err), 0);
	assert_string_equal(d->digest, L1);
	platform_free(&p);
	/* arm64/v8 matches an arm64 entry without a variant */
	assert_int_equal(platform_parse("linux/arm64/v8", &p, &err), 0);
	assert_int_equal(index_select(&idx, &p, &d, &err), 0);
	assert_string_equal(d->digest, L2);
	platform_free(&p);
	assert_int_equal(platform_parse("linux/arm/v7", &p, &err), 0);
	assert_int_equal(index_select(&idx, &p, &d, &err), 0);
	assert_string_equal(d->digest, CFG_DIGEST);
	platform_free(&p);
	assert_int_equal(platform_parse("linux/s390x", &p, &err), 0);
	assert_true(index_select(&idx, &p, &d, &err) < 0);
	assert_non_null(strstr(err->msg, "linux/amd64, linux/arm64, linux/arm/v7"));
	berth_error_free(&err);
	platform_free(&p);
	assert_true(platform_parse("linux", &p, &err) < 0);
	berth_error_free(&err);
	assert_true(platform_parse("linux/arm/v7/x", &p, &err) < 0);
	berth_error_free(&err);
	image_index_free(&idx);
}

static void test_config_and_chain_ids(void **state)
{
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"A=1\"],"
				  "\"Cmd\":[\"sh\"],\"WorkingDir\":\"/w\",\"User\":\"1000:1000\","
				  "\"ExposedPorts\":{\"80/tcp\":{}},\"Labels\":{\"k\":\"v\"},"
				  "\"Shell\":[\"/bin/sh\",\"-e\",\"-c\"],\"OnBuild\":[\"RUN true\"]},"
				  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" L1 "\",\"" L2 "\"]}}";
	static const char no_rootfs[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
	char chains[2][DIGEST_STRING_MAX], expect[DIGEST_STRING_MAX];
	berth_error *err = NULL;
	image_config c;

	(void)state;
	assert_int_equal(image_config_parse(cfg, strlen(cfg), &c, &err), 0);
	assert_string_equal(c.cmd[0], "sh");
	assert_null(c.entrypoint);
	assert_string_equal(c.working_dir, "/w");
	assert_string_equal(c.exposed_ports[0], "80/tcp");
	/* kept for image inspect */
	assert_string_equal(json_string_value(json_array_get(c.shell, 1)), "-e");
	assert_string_equal(json_string_value(json_array_get(c.on_build, 0)), "RUN true");
	assert_int_equal(c.n_diff_ids, 2);
	image_chain_ids(c.diff_ids, c.n_diff_ids, chains);
	assert_string_equal(chains[0], L1);
	digest_buffer(L1 " " L2, strlen(L1 " " L2), expect);
	assert_string_equal(chains[1], expect);
	image_config_free(&c);
	assert_true(image_config_parse(no_rootfs, strlen(no_rootfs), &c, &err) < 0);
	assert_non_null(strstr(err->msg, "rootfs.diff_ids"));
	berth_error_free(&err);
}

/* ---- the store ---- */

static int store_setup(void **state)
{
	char *dir = strdup("/tmp/berth-test-store.XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int store_teardown(void **state)
{
	berth_error *err = NULL;
	int ret = fs_remove_tree(*state, &err);

	berth_error_free(&err);
	free(*state);
	return ret;
}

static int count_entries(const char *dir)
{
	char cmd[512];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static void test_store_layout_and_blobs(void **state)
{
	char root[256], path[320], digest[DIGEST_STRING_MAX];
	berth_error *err = NULL;
	store *s = NULL;
	store_writer *w = NULL;
	char *data = NULL;
	size_t len;

	snprintf(root, sizeof(root), "%s/store", (char *)*state);
	assert_int_equal(store_open(root, &s, &err), 0);
	snprintf(path, sizeof(path), "%s/oci-layout", root);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/index.json", root);
	assert_int_equal(access(path, F_OK), 0);

	/* a blob is visible only after commit, under its digest */
	assert_int_equal(store_writer_open(s, NULL, -1, &w, &err), 0);
	assert_int_equal(store_writer_write(w, "ab", 2, &err), 0);
	assert_int_equal(store_writer_write(w, "c", 1, &err), 0);
	snprintf(path, sizeof(path), "%s/ingest", root);
	assert_int_equal(count_entries(path), 1);
	assert_int_equal(store_writer_commit(w, digest, &err), 0);
	assert_string_equal(digest, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(count_entries(path), 0);
	assert_true(store_blob_exists(s, digest));
	assert_int_equal(store_blob_read(s, digest, 100, &data, &len, &err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	free(data);

	/* wrong content for the expected digest: refused, nothing visible, ingest empty */
	assert_true(store_blob_put(s, "abd", 3, digest, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "does not match its digest"));
	berth_error_free(&err);
	assert_int_equal(count_entries(path), 0);
	/* more bytes than announced fail at once */
	assert_int_equal(store_writer_open(s, D1, 2, &w, &err), 0);
	assert_true(store_writer_write(w, "abc", 3, &err) < 0);
	assert_non_null(strstr(err->msg, "more than the 2 bytes"));
	berth_error_free(&err);
	store_writer_abort(w);
	assert_int_equal(count_entries(path), 0);
	/* a reset writer starts over */
	assert_int_equal(store_writer_open(s, digest, 3, &w, &err), 0);
	assert_int_equal(store_writer_write(w, "xy", 2, &err), 0);
	assert_int_equal(store_writer_reset(w, &err), 0);
	assert_int_equal(store_writer_write(w, "abc", 3, &err), 0);
	assert_int_equal(store_writer_commit(w, NULL, &err), 0);

	/* a corrupted blob is caught on read */
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", root, digest_hex(digest));
	{
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs("xyz", f);
		fclose(f);
	}
	assert_true(store_blob_read(s, digest, 100, &data, &len, &err) < 0);
	assert_non_null(strstr(err->msg, "is corrupt"));
	berth_error_free(&err);
	assert_int_equal(store_blob_remove(s, digest, &err), 0);
	assert_false(store_blob_exists(s, digest));
	store_close(s);
}

static void test_store_refs(void **state)
{
	char root[256];
	berth_error *err = NULL;
	store *s = NULL;
	store_refs refs;

	snprintf(root, sizeof(root), "%s/store", (char *)*state);
	assert_int_equal(store_open(root, &s, &err), 0);
	assert_int_equal(store_ref_set(s, "docker.io/library/a:1", L1, MEDIA_OCI_MANIFEST, 10, &err), 0);
	assert_int_equal(store_ref_set(s, "docker.io/library/a:2", L1, MEDIA_OCI_MANIFEST, 10, &err), 0);
	/* a name moves to another image */
	assert_int_equal(store_ref_set(s, "docker.io/library/a:1", L2, MEDIA_OCI_MANIFEST, 11, &err), 0);
	/* an unnamed image already present is not added twice */
	assert_int_equal(store_ref_set(s, NULL, L2, MEDIA_OCI_MANIFEST, 11, &err), 0);
	assert_int_equal(store_ref_set(s, NULL, CFG_DIGEST, MEDIA_OCI_MANIFEST, 12, &err), 0);
	assert_int_equal(store_refs_load(s, &refs, &err), 0);
	assert_int_equal(refs.n, 3);
	assert_string_equal(refs.refs[0].name, "docker.io/library/a:2");
	assert_string_equal(refs.refs[1].name, "docker.io/library/a:1");
	assert_string_equal(refs.refs[1].digest, L2);
	assert_null(refs.refs[2].name);
	store_refs_free(&refs);
	/* naming an unnamed image replaces its unnamed entry */
	assert_int_equal(store_ref_set(s, "localhost/c:x", CFG_DIGEST, MEDIA_OCI_MANIFEST, 12, &err), 0);
	assert_int_equal(store_refs_load(s, &refs, &err), 0);
	assert_int_equal(refs.n, 3);
	assert_string_equal(refs.refs[2].name, "localhost/c:x");
	store_refs_free(&refs);
	assert_true(store_ref_remove(s, "docker.io/library/nope:1", &err) < 0);
	assert_int_equal(err->code, ENOENT);
	berth_error_free(&err);
	assert_int_equal(store_ref_remove(s, "docker.io/library/a:2", &err), 0);
	assert_int_equal(store_ref_remove_digest(s, L2, &err), 0);
	assert_int_equal(store_refs_load(s, &refs, &err), 0);
	assert_int_equal(refs.n, 1);
	assert_string_equal(refs.refs[0].digest, CFG_DIGEST);
	store_refs_free(&refs);
	store_close(s);
	/* the store reopens from what is on disk */
	assert_int_equal(store_open(root, &s, &err), 0);
	assert_int_equal(store_refs_load(s, &refs, &err), 0);
	assert_int_equal(refs.n, 1);
	store_refs_free(&refs);
	store_close(s);
}

static void test_store_snapshots(void **state)
{
	char root[256], file[512];
	berth_error *err = NULL;
	store *s = NULL;
	char *tmp = NULL, *tmp2 = NULL;
	int fd;

	snprintf(root, sizeof(root), "%s/store", (char *)*state);
	assert_int_equal(store_open(root, &s, &err), 0);
	fd = store_snapshot_begin(s, &tmp, &err);
	assert_true(fd >= 0);
	close(fd);
	snprintf(file, sizeof(file), "%s/x", tmp);
	close(open(file, O_CREAT | O_WRONLY, 0644));
	assert_false(store_snapshot_exists(s, L1));
	assert_int_equal(store_snapshot_commit(s, tmp, L1, &err), 0);
	assert_true(store_snapshot_exists(s, L1));
	/* a second unpack of the same chain loses the race quietly */
	fd = store_snapshot_begin(s, &tmp2, &err);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_snapshot_commit(s, tmp2, L1, &err), 0);
	assert_int_equal(access(tmp2, F_OK), -1);
	snprintf(file, sizeof(file), "%s/snapshots", root);
	assert_int_equal(count_entries(file), 1);
	assert_int_equal(store_snapshot_remove(s, L1, &err), 0);
	assert_false(store_snapshot_exists(s, L1));
	assert_int_equal(count_entries(file), 0);
	free(tmp);
	free(tmp2);
	store_close(s);
}

static void test_store_bad_index(void **state)
{
	char root[256], path[320];
	berth_error *err = NULL;
	store *s = NULL;
	store_refs refs;
	FILE *f;

	snprintf(root, sizeof(root), "%s/store", (char *)*state);
	assert_int_equal(store_open(root, &s, &err), 0);
	snprintf(path, sizeof(path), "%s/index.json", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"manifests\": 3}", f);
	fclose(f);
	assert_true(store_refs_load(s, &refs, &err) < 0);
	assert_non_null(strstr(err->msg, "index.json: \"manifests\" is not an array"));
	berth_error_free(&err);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_normalise),
		cmocka_unit_test(test_reference_names),
		cmocka_unit_test(test_reference_bad),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_manifest_detect),
		cmocka_unit_test(test_manifest_bad),
		cmocka_unit_test(test_index_select),
		cmocka_unit_test(test_config_and_chain_ids),
		cmocka_unit_test_setup_teardown(test_store_layout_and_blobs, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_refs, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_snapshots, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_bad_index, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
