/* Content digests ("sha256:<64 lowercase hex>"), the names of every blob.
 *
 * Only sha256 is accepted: it is what registries, OCI layouts and docker
 * archives use. Other algorithms are refused with a clear error rather than
 * trusted unverified. */
#ifndef BERTH_IMAGE_DIGEST_H
#define BERTH_IMAGE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nettle/sha2.h>

#include "util/error.h"

/* "sha256:" + 64 hex + NUL */
#define DIGEST_STRING_MAX 72

/* Nettle's SHA-256: it uses the CPU's SHA extensions where there are any
 * (about 4x libmd's portable code here), and every pulled or loaded byte is
 * hashed, compressed and uncompressed. */
typedef struct digester {
	struct sha256_ctx ctx;
	uint64_t size; /* bytes hashed so far */
} digester;

void digester_init(digester *d);
void digester_update(digester *d, const void *data, size_t len);
/* Writes "sha256:<hex>" to OUT. */
void digester_final(digester *d, char out[DIGEST_STRING_MAX]);

/* The digest of a buffer. */
void digest_buffer(const void *data, size_t len, char out[DIGEST_STRING_MAX]);

/* Hashes everything FD reads from its current offset to the end. */
int digest_fd(int fd, char out[DIGEST_STRING_MAX], uint64_t *size, berth_error **err);

/* Checks the form "sha256:<64 lowercase hex>"; the error names the digest. */
int digest_validate(const char *digest, berth_error **err);
bool digest_is_valid(const char *digest);

/* The hex part of a valid digest. */
const char *digest_hex(const char *digest);

#endif
