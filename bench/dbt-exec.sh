#!/bin/sh
# Binary translator benchmark for `typevisor exec`: Debian's riscv64 busybox doing the CPU-bound
# steps of ../shared/bench/cpu-workload.sh (sha256sum, sha512sum, gzip, gunzip) on a deterministic
# file, run in the same benchmark run by
#   1. typevisor exec --engine interp   (the interpreter)
#   2. typevisor exec --engine dbt      (the binary translator)
#   3. Debian's qemu-riscv64 (user mode)
# and natively with the host's busybox, printing seconds per step and the ratios dbt/interp,
# dbt/qemu and dbt/native. The file is smaller than the workload's 32 MiB so the interpreter run
# finishes in minutes (SIZE_MB, default 4).
#
# Usage: bench/dbt-exec.sh [RV_BUSYBOX]   (default: the ABI tests' cache of Debian's busybox-static)
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TYPEVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/typevisor}
RV=${1:-$(ls -d "$CACHE"/abi-test-roots/riscv64-*/usr/bin/busybox 2>/dev/null | head -1)}
SIZE_MB=${SIZE_MB:-4}
[ -x "$RV" ] || { echo "riscv64 busybox not found (run node --test dist/test/abi/DebianPrograms.test.js once, or pass its path)" >&2; exit 2; }
command -v qemu-riscv64 >/dev/null || { echo "qemu-riscv64 not installed (apt-get install qemu-user)" >&2; exit 2; }
[ -f "$HERE/dist/src/cli/main.js" ] || { echo "build first: npx tsc -p ." >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Deterministic, compressible data: a 256 KiB text block of an LCG's numbers, repeated.
awk 'BEGIN{x=20240601; while (n < 262144) { x = (x * 16807) % 2147483647; s = x " "; printf "%s", s; n += length(s) } }' | head -c 262144 > "$W/blk"
i=0; : > "$W/data"; while [ $i -lt $((SIZE_MB * 4)) ]; do cat "$W/blk" >> "$W/data"; i=$((i + 1)); done
gzip -c "$W/data" > "$W/data.gz"
echo "node $(node --version), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), ${SIZE_MB} MiB, $(date -u +%Y-%m-%dT%H:%MZ)"

# CPU seconds (user + sys of the process tree, GNU time): on a shared, loaded machine wall time
# mostly measures the other processes.
[ -x /usr/bin/time ] || { echo "GNU time not installed (apt-get install time)" >&2; exit 2; }
timeit() { # runs "$@" with stdout to /dev/null, prints CPU seconds; fails loudly if the command fails
  /usr/bin/time -f "%U %S" -o "$W/t" "$@" > "$W/out" 2> "$W/err" || { echo "failed: $*" >&2; cat "$W/err" >&2; exit 1; }
  awk '{printf "%.2f", $1 + $2}' "$W/t"
}
TV="node $HERE/bin/typevisor.js exec"
echo "CPU seconds (user+sys):"
printf "%-10s %8s %8s %8s %8s %10s %10s %10s\n" step native qemu interp dbt dbt/interp dbt/qemu dbt/native
for step in "sha256sum data" "sha512sum data" "gzip -c data" "gzip -d -c data.gz"; do
  cd "$W"
  nat=$(timeit busybox $step)
  qemu=$(timeit qemu-riscv64 "$RV" $step)
  interp=$(timeit $TV --engine interp "$RV" $step)
  dbt=$(timeit $TV --engine dbt "$RV" $step)
  name=$(echo "$step" | cut -d' ' -f1-2 | tr ' ' '_')
  awk -v s="$name" -v n="$nat" -v q="$qemu" -v i="$interp" -v d="$dbt" 'BEGIN{printf "%-10s %8.2f %8.2f %8.2f %8.2f %10.2f %10.2f %10.2f\n", s, n, q, i, d, d/i, d/q, (n > 0 ? d/n : 0)}'
done
