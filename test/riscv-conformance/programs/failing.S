// Deliberately fails test 7 (for run-elf's own tests).
#include "tv_test.h"
TV_BEGIN
  TEST_RR(2, add, 3, 1, 2)
  TEST_RR(7, add, 4, 1, 2)
TV_END
