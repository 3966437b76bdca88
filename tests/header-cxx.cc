// SPDX-License-Identifier: MIT
// Header hygiene: the public header compiled as C++, linking the C library.
#include "shmslab.h"

#include <cstdio>

int main()
{
	shmslab_config cfg;
	shmslab_config_init(&cfg);
	shmslab_ref ref = SHMSLAB_REF_NONE;
	bool linked = shmslab_version() == SHMSLAB_VERSION_MAJOR * 10000u +
						   SHMSLAB_VERSION_MINOR * 100u +
						   SHMSLAB_VERSION_PATCH;
	bool named = shmslab_strerror(SHMSLAB_EFORMAT) != nullptr && ref == 0;

	std::printf("1..1\n%s 1 - header compiles as C++ and links\n",
		    linked && named && cfg.slot_size == 4096 ? "ok" : "not ok");
	return 0;
}
