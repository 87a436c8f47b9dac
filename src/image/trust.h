/* Image trust: the signature policy that podman, skopeo and CRI-O share
 * (containers-policy.json(5)), where signatures live (containers-
 * registries.d(5)), and the verification of "simple signing" signatures
 * (containers-signature(5)) made with GPG.
 *
 * The policy is parsed strictly, like containers/image: an unknown field, a
 * bad type or a scope not in fully expanded form is an error naming the file
 * and the JSON path. No policy file at all means "accept anything", and
 * trust_policy.path is then NULL so `berth info` can say so.
 *
 * Evaluation (trust_evaluate) takes the requirements of the most specific
 * scope for the image's identity ("docker" transport: the reference with its
 * tag or digest, then its repository, parent namespaces, host, wildcarded
 * domains, the transport's "" scope, the global default). Every requirement
 * must hold; a signedBy requirement holds when at least one signature
 * verifies with its keys and claims an identity its signedIdentity accepts,
 * and the manifest digest the signature names is the image's. */
#ifndef BERTH_IMAGE_TRUST_H
#define BERTH_IMAGE_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define TRUST_SYSTEM_POLICY "/etc/containers/policy.json"

typedef enum trust_requirement_type {
	TRUST_INSECURE_ACCEPT_ANYTHING,
	TRUST_REJECT,
	TRUST_SIGNED_BY,
	TRUST_SIGSTORE_SIGNED,
} trust_requirement_type;

typedef enum trust_identity_type {
	TRUST_MATCH_REPO_DIGEST_OR_EXACT, /* the default */
	TRUST_MATCH_EXACT,
	TRUST_MATCH_REPOSITORY,
	TRUST_EXACT_REFERENCE,
	TRUST_EXACT_REPOSITORY,
	TRUST_REMAP_IDENTITY,
} trust_identity_type;

typedef struct trust_identity {
	trust_identity_type type;
	char *reference;     /* exactReference's dockerReference, exactRepository's dockerRepository */
	char *prefix;	     /* remapIdentity */
	char *signed_prefix; /* remapIdentity */
} trust_identity;

typedef struct trust_requirement {
	trust_requirement_type type;
	char **key_paths;	 /* NULL-terminated: keyPath or keyPaths (signedBy), keyPath (sigstoreSigned) */
	unsigned char *key_data; /* keyData, decoded from base64 */
	size_t key_data_len;
	trust_identity identity;
} trust_requirement;

typedef struct trust_scope {
	char *scope; /* "" for a transport's default */
	trust_requirement *requirements;
	size_t n_requirements;
} trust_scope;

typedef struct trust_transport {
	char *name; /* "docker", "docker-archive", ... */
	trust_scope *scopes;
	size_t n_scopes;
} trust_transport;

typedef struct trust_policy {
	char *path; /* the file read; NULL: none exists, the built-in "accept anything" */
	trust_scope default_scope;
	trust_transport *transports;
	size_t n_transports;
} trust_policy;

/* Parses and validates policy TEXT; ORIGIN (a path) names it in errors:
 * `policy "/etc/containers/policy.json": transports.docker["x"][0].keyPath: ...`. */
int trust_policy_parse(const char *text, size_t len, const char *origin, trust_policy *out, berth_error **err);

/* Sets what the in-process OpenPGP check needs in the environment. A
 * program that starts threads calls it first (setenv is not thread-safe);
 * the first check does it otherwise. */
void trust_prepare_environment(void);

/* Loads OVERRIDE when given (it must exist); else, rootless, the user's
 * $XDG_CONFIG_HOME/containers/policy.json (default ~/.config) when it
 * exists; else /etc/containers/policy.json; else the built-in default. */
int trust_policy_load(const char *override, bool rootless, trust_policy *out, berth_error **err);
void trust_policy_free(trust_policy *p);
/* The file trust_policy_load reads (it may not exist). Heap; NULL when out
 * of memory. */
char *trust_policy_path(const char *override, bool rootless);
/* For `berth info`: the policy file in use, "none (accept anything)", or
 * "PATH (invalid: REASON)". Heap. */
char *trust_policy_describe(bool rootless);

/* The requirements for an image of TRANSPORT ("docker") whose identity is
 * IDENTITY ("host/repo:tag" or "host/repo@sha256:..."; NULL or "" for none:
 * only the transport's and the global defaults apply). *SCOPE_OUT (may be
 * NULL) gets the scope that matched ("" transport default, NULL global). */
const trust_scope *trust_policy_lookup(const trust_policy *p, const char *transport, const char *identity,
				       const char **scope_out);

/* True when SCOPE's requirements need signatures (signedBy, sigstoreSigned)
 * and do not reject outright. */
bool trust_scope_needs_signatures(const trust_scope *scope);

const char *trust_requirement_type_name(trust_requirement_type t);

/* ---- `berth image trust` (trust_edit.c) ---- */

struct json_t;
struct trust_registries;
/* P as `podman image trust show --json` prints it: one object per
 * requirement, {"transport": "all"|"repository"|TRANSPORT, "name",
 * "repo_name", "type": "accept"|"reject"|"signed"|"sigstoreSigned", "keys"
 * (the key files), "sigstore" (the lookaside registries.d R names; R may be
 * NULL)}. NULL when out of memory. */
struct json_t *trust_policy_show(const trust_policy *p, const struct trust_registries *r);
/* Sets the requirements of SCOPE ("default", or a scope of the docker
 * transport) in the policy file PATH to one requirement of TYPE ("accept",
 * "reject", "signedBy", "sigstoreSigned") with the absolute KEY_FILES
 * (NULL-terminated; signedBy: keyPath for one, keyPaths for more). The rest
 * of the file is kept as it is, fields berth does not understand included;
 * the file is replaced atomically (temp file, fsync, rename). A missing file
 * starts as {"default": [insecureAcceptAnything]}, what berth does without
 * one. The new entry is checked by the policy parser before anything is
 * written. */
int trust_policy_set(const char *path, const char *scope, const char *type, char *const *key_files, berth_error **err);

/* ---- identities (trust_identity.c) ---- */

/* Whether a signature claiming SIGNED_REFERENCE is acceptable for an image
 * known as INTENDED (both docker references; INTENDED fully expanded, with a
 * tag or digest) under RULE. */
bool trust_identity_matches(const trust_identity *rule, const char *intended, const char *signed_reference);

/* The identity of a reference as typed ("busybox" -> "docker.io/library/busybox:latest";
 * with a digest, "host/repo@sha256:..." without the tag). Heap; NULL with ERR. */
char *trust_identity_of(const char *reference, berth_error **err);

/* Where IDENTITY ("host/ns/repo:tag") is looked up, most specific first:
 * IDENTITY, "host/ns/repo", "host/ns", "host", then "*.DOMAIN" for each
 * parent domain of the host (containers/image's order). NULL-terminated,
 * heap; NULL when out of memory. */
char **trust_identity_namespaces(const char *identity);

/* ---- simple signing payloads (trust_payload.c) ---- */

typedef struct trust_payload {
	char *docker_reference; /* critical.identity.docker-reference */
	char *manifest_digest;	/* critical.image.docker-manifest-digest */
} trust_payload;

#define TRUST_PAYLOAD_SIMPLE   "atomic container signature"	  /* GPG simple signing */
#define TRUST_PAYLOAD_SIGSTORE "cosign container image signature" /* sigstore */

/* Parses a payload strictly: critical.type must be TYPE (one of the two
 * above); no unknown critical fields. */
int trust_payload_parse(const char *text, size_t len, const char *type, trust_payload *out, berth_error **err);
/* A payload of TYPE for REFERENCE and DIGEST, with berth as creator (heap). */
char *trust_payload_create(const char *type, const char *reference, const char *digest, size_t *len, berth_error **err);
void trust_payload_free(trust_payload *p);

/* ---- signatures and where they live ---- */

/* A sigstore signature as cosign stores it: the payload (a layer of the
 * "sha256-HEX.sig" attachment) and the base64 signature of its annotation
 * "dev.cosignproject.cosign/signature". */
typedef struct trust_sigstore_signature {
	char *payload;
	size_t payload_len;
	char *signature; /* base64 */
} trust_sigstore_signature;

/* The signatures of an image: simple signing (each a signed OpenPGP
 * message) and sigstore. */
typedef struct trust_signatures {
	char **data;
	size_t *len;
	size_t n;
	trust_sigstore_signature *sigstore;
	size_t n_sigstore;
} trust_signatures;

int trust_signatures_add(trust_signatures *s, const char *data, size_t len, berth_error **err);
int trust_signatures_add_sigstore(trust_signatures *s, const char *payload, size_t len, const char *signature,
				  berth_error **err);
void trust_signatures_free(trust_signatures *s);

/* One section of registries.d (containers-registries.d(5)). */
typedef struct trust_registry_config {
	char *lookaside;	 /* "lookaside" (or the older "sigstore") */
	char *lookaside_staging; /* "lookaside-staging" (or "sigstore-staging") */
	bool use_sigstore_attachments;
} trust_registry_config;

typedef struct trust_registries {
	char **scopes; /* the keys of "docker" */
	trust_registry_config *configs;
	size_t n;
	trust_registry_config default_docker;
	bool has_default_docker;
} trust_registries;

/* Merges the YAML TEXT of ORIGIN into INTO; a scope (or default-docker)
 * configured twice is an error, as in containers/image. */
int trust_registries_parse(const char *text, size_t len, const char *origin, trust_registries *into, berth_error **err);
/* Reads every DIR/NAME.yaml (DIR NULL: ~/.config/containers/registries.d when
 * rootless and it exists, else /etc/containers/registries.d; a missing
 * directory is no configuration). */
int trust_registries_load(const char *dir, bool rootless, trust_registries *out, berth_error **err);
void trust_registries_free(trust_registries *r);
/* The section for IDENTITY: the most specific "docker" scope, else
 * default-docker, else NULL. */
const trust_registry_config *trust_registries_lookup(const trust_registries *r, const char *identity);
/* The lookaside base URL of IDENTITY's repository, for reading (WRITE:
 * staging first): the section's URL, else the built-in
 * file:///var/lib/containers/sigstore (rootless ~/.local/share/containers/sigstore),
 * plus "/" and the repository path without the host. Heap. */
char *trust_lookaside_base(const trust_registries *r, const char *identity, bool write, bool rootless,
			   berth_error **err);

/* Reads BASE@sha256=HEX/signature-1, -2, ... until one is missing
 * (file://, http://, https://). */
int trust_lookaside_fetch(const char *base, const char *digest, trust_signatures *out, berth_error **err);
/* Adds SIG as the next signature-N under a file:// BASE. */
int trust_lookaside_store(const char *base, const char *digest, const char *sig, size_t len, berth_error **err);

/* ---- the checks that pull, run, create and load make ---- */

typedef struct trust_options {
	const char *policy_path;  /* --signature-policy, NULL: the default (trust_policy_load) */
	const char *registries_d; /* --registries.d, NULL: the default */
	bool rootless;
} trust_options;

/* Whether IDENTITY with manifest DIGEST passes POLICY given SIGS. STORE_ROOT
 * (NULL: none) keeps GPG key rings and verification results in its "trust"
 * directory, so the same signature is not verified by gpg twice (image/
 * trust_cache.c says why that is as strict). */
int trust_check(const trust_policy *policy, const char *store_root, const char *transport, const char *identity,
		const char *digest, const trust_signatures *sigs, berth_error **err);

struct registry_client;
/* For a pull of IDENTITY whose manifest is DIGEST: when POLICY's scope
 * wants signatures, fetches them (signedBy: from the lookaside;
 * sigstoreSigned: the attachments of CLIENT's repository when registries.d
 * enables them), and checks. SIGS gets the signatures that were read (for
 * trust_record_save). */
int trust_check_pull(const trust_options *o, const trust_policy *policy, const char *store_root,
		     struct registry_client *client, const char *identity, const char *digest, trust_signatures *sigs,
		     berth_error **err);
/* Before any network: fails when IDENTITY's scope has a reject requirement. */
int trust_check_early(const trust_policy *policy, const char *identity, berth_error **err);

/* ---- signing on push (trust_sign.c) ---- */

typedef struct trust_pending_signature {
	char *base; /* GPG: the lookaside (staging) base URL of the destination, file:/// */
	char *digest;
	char *data; /* GPG: the signed OpenPGP message; sigstore: the payload */
	size_t len;
	char *sigstore_signature; /* sigstore: base64, else NULL */
} trust_pending_signature;

/* Before the push: finds where the signature goes (registries.d; only
 * file:/// is written) and signs IDENTITY + DIGEST with the GPG key KEY_ID
 * of the user's key ring, so a bad key fails before anything is uploaded. */
int trust_sign_prepare(const trust_options *o, const char *key_id, const char *identity, const char *digest,
		       trust_pending_signature *out, berth_error **err);
/* The same, the signature going under the lookaside URL BASE (file:///). */
int trust_sign_prepare_at(const char *base, const char *key_id, const char *identity, const char *digest,
			  trust_pending_signature *out, berth_error **err);
/* The same for sigstore with the PEM private key at KEY_PATH; registries.d
 * must enable use-sigstore-attachments for the destination. */
int trust_sign_prepare_sigstore(const trust_options *o, const char *key_path, const char *identity, const char *digest,
				trust_pending_signature *out, berth_error **err);
/* After the push: stores the signature (GPG: the next signature-N in the
 * lookaside; sigstore: a layer more in CLIENT's "sha256-HEX.sig" attachment). */
int trust_sign_commit(const trust_pending_signature *s, struct registry_client *client, berth_error **err);
void trust_pending_signature_free(trust_pending_signature *s);

/* For gc: removes the verification results kept in STORE_ROOT/trust
 * (image/trust_cache.c) whose signature is not among the signatures kept
 * with the images (trust_record_save), and the temp files a killed command
 * left there; and STORE_ROOT/trust/keyrings, the gpg key rings of earlier
 * versions. */
int trust_cache_sweep(const char *store_root, berth_error **err);

struct image_info;
/* For run and create of the stored image INFO, named TEXT as typed: the
 * policy of today must accept the image under that name (TEXT a name or
 * NAME@DIGEST), or, for an id, under at least one of its names, with the
 * signatures kept at its pull. No policy file: nothing is read. */
int trust_check_stored(const trust_options *o, const char *store_root, const char *text, const struct image_info *info,
		       berth_error **err);

/* For load: archives carry no signatures, so the policy can only accept
 * (insecureAcceptAnything) or refuse. DIRECTORY: the input is an OCI
 * layout directory (transport "oci"), else the archive may be either a
 * docker-archive or an oci-archive and both must be accepted. Scopes of the
 * archive transports (paths) are not matched: their "" scope or the global
 * default applies. */
int trust_check_archive(const trust_options *o, bool directory, berth_error **err);

/* The signatures kept in the store with the image whose manifest is DIGEST
 * (STORE_ROOT/signatures/sha256-HEX/signature-N, and "signed-digest": the
 * manifest they sign, an index when the reference named one), so that run
 * and create check the policy of today against what pull saw. Nothing is
 * written when SIGS is empty. SIGNED_DIGEST (DIGEST_STRING_MAX) gets DIGEST
 * when no record exists. */
int trust_record_save(const char *store_root, const char *digest, const char *signed_digest,
		      const trust_signatures *sigs, berth_error **err);
/* For `berth image inspect`: what the record holds, as
 * {"SignedDigest": D, "SimpleSigning": N, "Sigstore": M}, or NULL when the
 * image was pulled without signatures being read. */
struct json_t;
struct json_t *trust_record_json(const char *store_root, const char *digest);
int trust_record_load(const char *store_root, const char *digest, char *signed_digest, trust_signatures *out,
		      berth_error **err);

#endif
