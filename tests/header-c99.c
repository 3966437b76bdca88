/* SPDX-License-Identifier: MIT */
/*
 * Header hygiene: the public header alone, compiled as strict C99 with every
 * warning an error.  Runs as a TAP test that uses each public type.
 */
#include "shmslab.h"

#include <stdio.h>

int main(void)
{
	struct shmslab_config cfg;
	struct shmslab_view view;
	struct shmslab_stats stats;
	struct shmslab_slot_info slot;
	struct shmslab_proc_info proc;
	shmslab_ref ref = SHMSLAB_REF_NONE;
	unsigned want = SHMSLAB_VERSION_MAJOR * 10000u + SHMSLAB_VERSION_MINOR * 100u +
			SHMSLAB_VERSION_PATCH;

	shmslab_config_init(&cfg);
	(void)view;
	(void)stats;
	(void)slot;
	(void)proc;
	printf("1..3\n");
	printf("%s 1 - header compiles as C99 and the library is version %s\n",
	       shmslab_version() == want ? "ok" : "not ok", SHMSLAB_VERSION_STRING);
	printf("%s 2 - config_init fills in the documented defaults\n",
	       cfg.slot_size == 4096 && cfg.slot_count == 1024 && cfg.max_slots == 0 &&
			       cfg.max_procs == 64 && cfg.mode == 0600 && ref == 0
		       ? "ok"
		       : "not ok");
	/* errno's names come with the header, which includes nothing else for them */
	printf("%s 3 - the header makes errno's names available: -ESTALE is \"%s\"\n",
	       shmslab_strerror(-ESTALE)[0] == 'S' ? "ok" : "not ok", shmslab_strerror(-ESTALE));
	return 0;
}
