#!/bin/sh
# Builds one conformance program by hand: ./build.sh NAME OUTDIR  (the test does the same in TypeScript).
exec riscv64-linux-gnu-gcc $CFLAGS -nostdlib -nostartfiles -static -march=rv64gc_zba_zbb_zbs -mabi=lp64d \
  -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T "$(dirname "$0")/link.ld" -I "$(dirname "$0")" \
  -o "$2/$1.elf" "$(dirname "$0")/$1.S"
