/* Image references as people type them: "busybox", "busybox:1.36",
 * "127.0.0.1:5000/team/app:v1", "app@sha256:...", "app:v1@sha256:...".
 *
 * Normalised the way docker and podman do: no registry means docker.io, and
 * a single-component docker.io path gets "library/". The first component is
 * a registry when it contains '.' or ':' or is "localhost". */
#ifndef BERTH_IMAGE_REFERENCE_H
#define BERTH_IMAGE_REFERENCE_H

#include "util/error.h"

typedef struct image_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000", "localhost" */
	char *path;   /* "library/busybox", "team/app" */
	char *tag;    /* "latest" when neither tag nor digest was given; NULL with only a digest */
	char *digest; /* "sha256:..." when pinned, else NULL */
} image_ref;

/* Parses TEXT; the error says what is wrong with it. */
int image_ref_parse(const char *text, image_ref *ref, berth_error **err);
void image_ref_free(image_ref *ref);

/* "domain/path" */
char *image_ref_repository(const image_ref *ref);
/* The name under which the store records the image: "domain/path:tag", or
 * "domain/path@digest" when pinned by digest only. */
char *image_ref_name(const image_ref *ref);
/* The reference to ask the registry for: the digest when pinned, else the tag. */
const char *image_ref_registry_reference(const image_ref *ref);

#endif
