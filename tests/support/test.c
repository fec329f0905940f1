#include "test.h"

int test_failures = 0;
