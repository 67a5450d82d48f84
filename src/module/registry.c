/* registry.c — the table of TIP's real modules. A module is listed here once it works. */
#include <string.h>

#include "flux/flux.h"
#include "module.h"
#include "feeds/feeds.h"

const struct tip_module *const tip_modules[] = {
	&tip_feeds_module,
	&tip_flux_resolve_module,
	&tip_flux_classify_module,
	NULL,
};

const struct tip_module *tip_module_find(const struct tip_module *const *table, const char *name)
{
	for (; *table; table++)
		if (!strcmp((*table)->name, name))
			return *table;
	return NULL;
}
