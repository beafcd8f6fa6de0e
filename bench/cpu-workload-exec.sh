#!/bin/sh
# CPU workload benchmark for `typevisor exec` (issue #3): the shared workload
# (../shared/bench/cpu-workload.sh: a deterministic 32 MiB file, busybox sha256sum, sha512sum,
# gzip, gunzip) run in the same benchmark run by
#   1. Debian trixie's riscv64 busybox under `typevisor exec` (the whole script, shell included),
#   2. the same riscv64 busybox under Debian's qemu-riscv64 (user mode), every timed command
#      emulated (BB prefix, host busybox for the untimed glue, as the workload documents),
#   3. trixie's amd64 busybox of the same version, natively.
# Prints each step's time, the ratios against native and QEMU, and each run's peak RSS (GNU time
# %M: the largest resident set of the process tree, i.e. of the emulator process).
#
# Usage: bench/cpu-workload-exec.sh [WORKLOAD] [RV_BUSYBOX] [X86_BUSYBOX]
# The busybox binaries default to the test cache (test/abi/DebianPackages.ts fetches them: run
# `node --test dist/test/abi/DebianPrograms.test.js` once).
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
WL=${1:-$HERE/../shared/bench/cpu-workload.sh}
CACHE=${TYPEVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/typevisor}
RV=${2:-$(ls -d "$CACHE"/abi-test-roots/riscv64-*/usr/bin/busybox 2>/dev/null | head -1)}
X86=${3:-$(ls -d "$CACHE"/abi-test-roots/amd64-*/usr/bin/busybox 2>/dev/null | head -1)}
[ -f "$WL" ] || { echo "workload $WL not found" >&2; exit 2; }
[ -x "$RV" ] || { echo "riscv64 busybox not found (run the ABI tests once to fetch it, or pass its path)" >&2; exit 2; }
[ -x "$X86" ] || { echo "amd64 busybox not found (pass its path as the third argument)" >&2; exit 2; }
command -v qemu-riscv64 >/dev/null || { echo "qemu-riscv64 not installed (apt-get install qemu-user)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time not installed (apt-get install time)" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "riscv64 busybox: $(qemu-riscv64 "$RV" 2>&1 | head -1)"
echo "amd64 busybox:   $("$X86" 2>&1 | head -1)"
echo "node $(node --version), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"

runone() { # name, then the command
  name=$1; shift
  /usr/bin/time -f "%M %e %U %S" -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" || {
    echo "$name failed:"; cat "$OUT/$name.err"; exit 1; }
  grep BENCH "$OUT/$name.out" | sed "s/^/$name: /"
}

runone native "$X86" sh "$WL" "$OUT/w-native"
BB="qemu-riscv64 $RV" runone qemu "$X86" sh "$WL" "$OUT/w-qemu"
runone typevisor node "$HERE/bin/typevisor.js" exec --inherit-env "$RV" sh "$WL" "$OUT/w-tv"

# All three must have computed the same thing.
for n in qemu typevisor; do
  a=$(grep BENCH-CHECK "$OUT/native.out"); b=$(grep BENCH-CHECK "$OUT/$n.out")
  [ "$a" = "$b" ] || { echo "MISMATCH between native and $n:"; echo "$a"; echo "$b"; exit 1; }
done

field() { grep '^BENCH ' "$OUT/$1.out" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
echo
printf "%-8s %10s %10s %10s %12s %12s\n" step native qemu typevisor tv/native tv/qemu
for s in gen sha256 sha512 gzip9 gunzip total; do
  n=$(field native $s); q=$(field qemu $s); t=$(field typevisor $s)
  awk -v s=$s -v n="$n" -v q="$q" -v t="$t" 'BEGIN {
    r1 = n > 0 ? sprintf("%.1fx", t / n) : "-"; r2 = q > 0 ? sprintf("%.2fx", t / q) : "-";
    printf "%-8s %9.2fs %9.2fs %9.2fs %12s %12s\n", s, n, q, t, r1, r2 }'
done
# On a shared machine wall times depend on the load; the CPU time of each run's process tree
# (user + system, GNU time) is the fairer comparison of the work each engine needed.
for n in native qemu typevisor; do
  set -- $(cat "$OUT/$n.time")
  eval "cpu_$n=$(awk -v u="$3" -v s="$4" 'BEGIN { printf "%.2f", u + s }')"
  eval "c=\$cpu_$n"
  printf "%-10s peak RSS %8d KiB   wall %8.2fs   CPU (user+sys) %8.2fs\n" "$n" "$1" "$2" "$c"
done
awk -v n="$cpu_native" -v q="$cpu_qemu" -v t="$cpu_typevisor" 'BEGIN {
  printf "CPU time ratios: typevisor/native %.1fx, typevisor/qemu %.2fx, qemu/native %.1fx\n", t / n, t / q, q / n }'
