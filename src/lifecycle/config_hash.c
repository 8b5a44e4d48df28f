/* src/lifecycle/config_hash.c: (issue 11) */
#include "postgres.h"
