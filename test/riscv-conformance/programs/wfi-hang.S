// Waits forever with no interrupt source (for run-elf's own tests): must stop, not spin.
#include "tv_test.h"
TV_BEGIN
1: wfi
  j 1b
TV_END
