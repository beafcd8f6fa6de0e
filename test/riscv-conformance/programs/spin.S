// Never reports anything: loops forever (for run-elf's --max-insns and --timeout tests).
#include "tv_test.h"
TV_BEGIN
1: addi a0, a0, 1
  j 1b
TV_END
