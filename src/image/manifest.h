/* Manifests, indexes and image configs, OCI and Docker schema 2.
 *
 * Docker v2 schema 2 manifests and manifest lists have the same shape as OCI
 * image manifests and indexes; both parse into the same structs. Schema 1
 * (signed, long deprecated) is refused. */
#ifndef BERTH_IMAGE_MANIFEST_H
#define BERTH_IMAGE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "image/digest.h"
#include "util/error.h"

#define MEDIA_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX		   "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_CONFIG	   "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER		   "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP	   "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD	   "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_DOCKER_MANIFEST	   "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG	   "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER_GZIP	   "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_DOCKER_FOREIGN_LAYER "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* Largest manifest, index or config read into memory. */
#define MANIFEST_MAX_SIZE (8u << 20)

typedef struct oci_platform {
	char *os;	    /* "linux" */
	char *architecture; /* "amd64", "arm64", ... (GOARCH names) */
	char *variant;	    /* "v8", or NULL */
} oci_platform;

typedef struct oci_descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	oci_platform platform; /* only in indexes; fields NULL when absent */
} oci_descriptor;

typedef struct image_manifest {
	char *media_type; /* MEDIA_OCI_MANIFEST or MEDIA_DOCKER_MANIFEST */
	oci_descriptor config;
	oci_descriptor *layers;
	size_t n_layers;
} image_manifest;

typedef struct image_index {
	char *media_type; /* MEDIA_OCI_INDEX or MEDIA_DOCKER_MANIFEST_LIST */
	oci_descriptor *manifests;
	size_t n_manifests;
} image_index;

/* The runnable part of an image config ("config" in the JSON). */
typedef struct image_config {
	char *os, *architecture, *variant;
	char *created; /* RFC 3339, or NULL */
	char *author;
	char *user, *working_dir, *stop_signal;
	char **env, **entrypoint, **cmd; /* NULL-terminated, or NULL when absent */
	char **volumes;			 /* keys of config.Volumes */
	char **exposed_ports;		 /* keys of config.ExposedPorts ("80/tcp") */
	json_t *labels;			 /* object, or NULL */
	char **diff_ids;		 /* rootfs.diff_ids, NULL-terminated */
	size_t n_diff_ids;
	json_t *healthcheck;	  /* docker's config.Healthcheck object, or NULL */
	json_t *shell, *on_build; /* docker's config.Shell, config.OnBuild arrays, or NULL */
} image_config;

typedef enum manifest_kind {
	MANIFEST_KIND_IMAGE,
	MANIFEST_KIND_INDEX,
} manifest_kind;

/* What BODY is: MEDIA_TYPE (a Content-Type, may be NULL or generic) wins when
 * it names a known type; otherwise the "mediaType" field or the shape of the
 * JSON decides. Schema 1 and unknown types are refused. */
int manifest_detect(const char *media_type, const char *body, size_t len, manifest_kind *kind, char **resolved_type,
		    berth_error **err);

int manifest_parse(const char *body, size_t len, image_manifest *out, berth_error **err);
void image_manifest_free(image_manifest *m);
int index_parse(const char *body, size_t len, image_index *out, berth_error **err);
void image_index_free(image_index *idx);
int image_config_parse(const char *body, size_t len, image_config *out, berth_error **err);
void image_config_free(image_config *c);
void oci_descriptor_free(oci_descriptor *d);
/* A descriptor as JSON ({mediaType, digest, size}). */
json_t *oci_descriptor_to_json(const oci_descriptor *d);

/* Parses "os/arch[/variant]"; NULL TEXT gives this host's platform. */
int platform_parse(const char *text, oci_platform *out, berth_error **err);
void platform_free(oci_platform *p);
/* "linux/amd64" or "linux/arm64/v8" (heap). */
char *platform_string(const oci_platform *p);

/* Picks the manifest for WANT: same os and architecture; a variant only has
 * to match when WANT has one (arm64 wants v8 or none). The error lists the
 * platforms the index has. */
int index_select(const image_index *idx, const oci_platform *want, const oci_descriptor **out, berth_error **err);

/* True for layer media types berth can unpack (tar, tar+gzip, tar+zstd, in
 * OCI and Docker spellings). */
bool layer_media_type_supported(const char *media_type);

/* chain_ids[i] for diff_ids[0..n): chain(0) = diff(0),
 * chain(i) = sha256(chain(i-1) + " " + diff(i)). OUT holds N entries. */
void image_chain_ids(char *const *diff_ids, size_t n, char (*out)[DIGEST_STRING_MAX]);

#endif
