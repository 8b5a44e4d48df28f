/* src/lifecycle/webhook_sign.c: (issue 11) */
#include "postgres.h"
