#include "image/digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void to_string(const uint8_t raw[SHA256_DIGEST_SIZE], char out[DIGEST_STRING_MAX])
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "sha256:", 7);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out[7 + 2 * i] = hex[raw[i] >> 4];
		out[8 + 2 * i] = hex[raw[i] & 15];
	}
	out[7 + 2 * SHA256_DIGEST_SIZE] = '\0';
}

void digester_init(digester *d)
{
	sha256_init(&d->ctx);
	d->size = 0;
}

void digester_update(digester *d, const void *data, size_t len)
{
	sha256_update(&d->ctx, len, data);
	d->size += len;
}

void digester_final(digester *d, char out[DIGEST_STRING_MAX])
{
	uint8_t raw[SHA256_DIGEST_SIZE];

	sha256_digest(&d->ctx, SHA256_DIGEST_SIZE, raw);
	to_string(raw, out);
}

void digest_buffer(const void *data, size_t len, char out[DIGEST_STRING_MAX])
{
	digester d;

	digester_init(&d);
	digester_update(&d, data, len);
	digester_final(&d, out);
}

int digest_fd(int fd, char out[DIGEST_STRING_MAX], uint64_t *size, berth_error **err)
{
	char buf[1 << 16];
	digester d;
	ssize_t n;

	digester_init(&d);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_error_set(err, errno, "read");
		}
		digester_update(&d, buf, (size_t)n);
	}
	if (size)
		*size = d.size;
	digester_final(&d, out);
	return 0;
}

bool digest_is_valid(const char *digest)
{
	if (digest == NULL || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
		return false;
	for (const char *p = digest + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int digest_validate(const char *digest, berth_error **err)
{
	const char *colon;

	if (digest_is_valid(digest))
		return 0;
	if (digest == NULL)
		return berth_error_set(err, EINVAL, "missing digest");
	colon = strchr(digest, ':');
	if (colon && (colon - digest != 6 || strncmp(digest, "sha256", 6) != 0))
		return berth_error_set(err, EINVAL, "digest \"%.80s\": unsupported algorithm \"%.*s\" (only sha256)",
				       digest, (int)(colon - digest) > 20 ? 20 : (int)(colon - digest), digest);
	return berth_error_set(err, EINVAL, "digest \"%.80s\": expected sha256: and 64 lowercase hex digits", digest);
}

const char *digest_hex(const char *digest)
{
	return digest + 7;
}
