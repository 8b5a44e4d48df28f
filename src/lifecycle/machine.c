/* src/lifecycle/machine.c: (issue 11) */
#include "postgres.h"
