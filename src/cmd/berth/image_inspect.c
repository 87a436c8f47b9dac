/* berth image inspect: images as a JSON array, docker's field names; the Id
 * is the config digest with its "sha256:", as docker prints it (and as
 * build, import and load print it). */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
#include "image/trust.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ NULL, 0, false, NULL },
};

int cmd_image_inspect(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	store *s = NULL;
	json_t *arr;
	int npos, ret;

	ret = berth_parse("image inspect", "image inspect IMAGE...", specs, argc, argv, false, v, &pos, &npos, 1, -1,
			  err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (berth_open_store(g, &s, err) < 0)
		return 125;
	arr = json_array();
	ret = 0;
	for (int i = 0; i < npos; i++) {
		image_info info;
		if (image_resolve(s, pos[i], &info, err) < 0) {
			ret = 125;
			break;
		}
		json_t *j = image_info_to_json(&info), *sigs = trust_record_json(store_root(s), info.manifest_digest);
		json_object_set_new(j, "Id", json_string(info.id));
		/* what pull read and the policy of then accepted (run and create check again) */
		json_object_set_new(j, "Signatures", sigs ? sigs : json_null());
		json_array_append_new(arr, j);
		image_info_free(&info);
	}
	if (ret == 0)
		berth_print_json(arr);
	json_decref(arr);
	store_close(s);
	return ret;
}
