/* libFuzzer target for the image trust parsers: the same input as a
 * containers-policy.json (then every scope lookup and identity rule on a
 * few identities), as a simple-signing and a cosign payload, and as a
 * registries.d YAML file. Built and run by tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/trust.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const identities[] = {
	"docker.io/library/busybox:latest",
	"reg.example.com:5000/ns/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"a.b.example.com/x/y/z:1",
};

static void exercise_policy(const trust_policy *p)
{
	for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
		const trust_scope *s = trust_policy_lookup(p, "docker", identities[i], NULL);
		trust_scope_needs_signatures(s);
		for (size_t r = 0; r < s->n_requirements; r++)
			trust_identity_matches(&s->requirements[r].identity, identities[i], identities[(i + 1) % 3]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	berth_error *err = NULL;
	trust_policy p;
	trust_payload payload;
	trust_registries r = { 0 };

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (trust_policy_parse(text, size, "fuzz", &p, &err) == 0) {
		exercise_policy(&p);
		trust_policy_free(&p);
	}
	berth_error_free(&err);
	if (trust_payload_parse(text, size, TRUST_PAYLOAD_SIMPLE, &payload, &err) == 0)
		trust_payload_free(&payload);
	berth_error_free(&err);
	if (trust_payload_parse(text, size, TRUST_PAYLOAD_SIGSTORE, &payload, &err) == 0)
		trust_payload_free(&payload);
	berth_error_free(&err);
	if (trust_registries_parse(text, size, "fuzz.yaml", &r, &err) == 0)
		trust_registries_lookup(&r, identities[2]);
	trust_registries_free(&r);
	berth_error_free(&err);
	free(text);
	return 0;
}
