/* Kubernetes YAML -> JSON values, as kubectl reads manifests.
 *
 * A file holds one or more documents separated by `---`. Each becomes a
 * jansson value with the types kubectl's YAML decoder gives them: plain
 * scalars resolve as YAML 1.1 does (true/yes/on are booleans, 42 an
 * integer, 1.5 a number, ~ and null null), quoted scalars and `!!str` stay
 * strings. Anchors, aliases and merge keys (`<<`) are resolved. Empty
 * documents (a file ending in `---`) are skipped.
 *
 * Errors name the source and the line: `deploy.yaml:7:3: mapping values
 * are not allowed in this context`. Every document remembers the line of
 * each field (by JSON path, as kube_yaml_line() looks it up) so that the
 * validator's messages can point at the line too. */
#ifndef BERTH_KUBE_YAML_LOAD_H
#define BERTH_KUBE_YAML_LOAD_H

#include <stddef.h>

#include <jansson.h>

#include "util/error.h"

typedef struct kube_document {
	json_t *value; /* the document's content */
	json_t *lines; /* {"spec.replicas": 12, ...}: 1-based line of each path */
	size_t index;  /* 1-based position among the stream's documents */
	size_t line;   /* line the document starts on */
} kube_document;

typedef struct kube_stream {
	kube_document *docs;
	size_t n;
} kube_stream;

/* Parses TEXT (LEN bytes) from SOURCE (a file name, "-" for stdin; used in
 * messages). A document whose top level is not a mapping is an error. */
int kube_yaml_parse(const char *text, size_t len, const char *source, kube_stream *out, berth_error **err);

/* The line PATH ("spec.template.spec.containers[0].image") was written on
 * in DOC, or of its nearest ancestor that has one; 0 when unknown. */
size_t kube_yaml_line(const kube_document *doc, const char *path);

void kube_stream_free(kube_stream *stream);

#endif
