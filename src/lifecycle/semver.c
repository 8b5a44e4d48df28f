/* src/lifecycle/semver.c: (issue 11) */
#include "postgres.h"
