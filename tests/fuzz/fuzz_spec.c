/* libFuzzer target for the config.json parser: the whole config
 * (spec_parse, validation included), a process object (exec --process)
 * and a resources object (update -r) from the same input. Built and run
 * by tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	spec *s = NULL;
	spec_process *p = NULL;
	spec_resources r;
	berth_error *err = NULL;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (spec_parse(text, &s, &err) == 0)
		spec_free(s);
	berth_error_free(&err);

	if (spec_parse_process(text, &p, &err) == 0)
		spec_process_free(p);
	berth_error_free(&err);

	memset(&r, 0, sizeof(r));
	if (spec_parse_resources(text, &r, &err) == 0)
		spec_resources_clear(&r);
	berth_error_free(&err);

	free(text);
	return 0;
}
