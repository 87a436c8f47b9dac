#include "util/proctitle.h"

#include <string.h>

static char *area;
static int room;

void proctitle_init(int argc, char **argv)
{
	char *end;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	/* the strings of argv lie one after the other; take the ones that do */
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	area = argv[0];
	room = (int)(end - area);
}

int proctitle_room(void)
{
	return room;
}

int proctitle_set(const char *title)
{
	size_t len;

	if (area == NULL || room <= 1)
		return 0;
	len = strlen(title);
	if (len > (size_t)room - 1)
		len = (size_t)room - 1;
	memset(area, 0, (size_t)room);
	memcpy(area, title, len);
	return room;
}
