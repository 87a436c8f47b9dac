/* `berth image history`: an image's history entries with their layers, as
 * docker's API gives them (GET /images/{name}/history). */
#ifndef BERTH_IMAGE_HISTORY_H
#define BERTH_IMAGE_HISTORY_H

#include <jansson.h>

#include "image/images.h"
#include "image/store.h"
#include "util/error.h"

/* INFO's history, newest first: [{"Id", "Created" (Unix seconds),
 * "CreatedBy", "Tags" (the image's names on the newest entry, else null),
 * "Size", "Comment"}]. "Id" is the image id on the newest entry and
 * "<missing>" on the others (docker's words for a layer that is no image of
 * its own). Size is the layer's unpacked size (its snapshot in the store;
 * the compressed size when it is not unpacked), 0 for empty_layer entries.
 * An image without history gets one entry per layer. */
int image_history(store *s, const image_info *info, json_t **out, berth_error **err);

#endif
