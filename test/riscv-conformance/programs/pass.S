// The smallest passing program (for run-elf's own tests).
#include "tv_test.h"
TV_BEGIN
  TEST_RR(2, add, 3, 1, 2)
TV_END
