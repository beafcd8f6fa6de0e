#!/bin/sh
# Short programs under `typevisor exec` against qemu-riscv64 in the same run (issue 15): the cost of
# starting up dominates them. Runs, REPS times each (best taken):
#   busybox true, busybox ls /, busybox sh running 'ls /usr/bin | wc -l' (Debian's busybox-static)
#   python3 -c pass                                                    (debian-riscv64-userland's python3)
# with typevisor exec --engine dbt and --engine interp, and qemu-riscv64 (-L ROOT for python3),
# printing CPU seconds (user+sys of the process tree) and wall seconds, and the ratios to qemu.
# The issue's target: each short program <= 2x qemu-riscv64's total time.
#
# Usage: bench/exec-short.sh [RV_BUSYBOX [ROOTFS]]
#   RV_BUSYBOX defaults to the ABI tests' cache of Debian's busybox-static;
#   ROOTFS to the debian-riscv64-userland image's tree (typevisor image pull debian-riscv64-userland).
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${TYPEVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/typevisor}
RV=${1:-$(ls -d "$CACHE"/abi-test-roots/riscv64-*/usr/bin/busybox 2>/dev/null | head -1)}
ROOT=${2:-$CACHE/images/debian-riscv64-userland/root}
REPS=${REPS:-3}
[ -x "$RV" ] || { echo "riscv64 busybox not found (run node --test dist/test/abi/DebianPrograms.test.js once, or pass its path)" >&2; exit 2; }
command -v qemu-riscv64 >/dev/null || { echo "qemu-riscv64 not installed (apt-get install qemu-user)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time not installed (apt-get install time)" >&2; exit 2; }
[ -f "$HERE/dist/src/cli/main.js" ] || { echo "build first: npx tsc -p ." >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
echo "node $(node --version), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), best of $REPS, $(date -u +%Y-%m-%dT%H:%MZ)"

best() { # runs "$@" REPS times; prints the best "cpu wall" pair (by wall time)
  r=0
  : > "$W/all"
  while [ $r -lt "$REPS" ]; do
    /usr/bin/time -f "%U %S %e" -o "$W/t" "$@" > "$W/out" 2> "$W/err" || { echo "failed: $*" >&2; cat "$W/err" >&2; exit 1; }
    awk '{printf "%.2f %.2f\n", $1 + $2, $3}' "$W/t" >> "$W/all"
    r=$((r + 1))
  done
  sort -k2 -n "$W/all" | head -1
}
TV="node $HERE/bin/typevisor.js exec"
printf "%-28s %14s %14s %14s %12s %12s\n" program "qemu cpu/wall" "dbt cpu/wall" "interp cpu/wall" "dbt/qemu" "interp/qemu"
row() { # name, qemu command..., then -- typevisor args...
  name=$1; shift
  q=""; while [ "$1" != "--" ]; do q="$q $1"; shift; done; shift
  qr=$(best $q)
  dr=$(best $TV --engine dbt "$@")
  ir=$(best $TV --engine interp "$@")
  echo "$name|$qr|$dr|$ir" | awk -F'|' '{split($2,q," "); split($3,d," "); split($4,i," ");
    printf "%-28s %6.2f/%6.2f %6.2f/%6.2f %6.2f/%6.2f %5.1fx/%4.1fx %5.1fx/%4.1fx\n", $1, q[1], q[2], d[1], d[2], i[1], i[2],
      d[1]/(q[1]>0?q[1]:0.01), d[2]/q[2], i[1]/(q[1]>0?q[1]:0.01), i[2]/q[2]}'
}
row "true" qemu-riscv64 "$RV" true -- "$RV" true
row "ls /" qemu-riscv64 "$RV" ls / -- "$RV" ls /
cat > "$W/lsbin.sh" <<'S'
ls /usr/bin | wc -l
S
row "sh: ls /usr/bin, wc -l" qemu-riscv64 "$RV" sh "$W/lsbin.sh" -- "$RV" sh "$W/lsbin.sh"
if [ -x "$ROOT/usr/bin/python3" ]; then
  # -B: no __pycache__ written into the shared image (it would no longer match its manifest).
  row "python3 -B -c pass" qemu-riscv64 -L "$ROOT" "$ROOT/usr/bin/python3" -B -c pass -- --root "$ROOT" /usr/bin/python3 -B -c pass
else
  echo "python3 -c pass: skipped ($ROOT has no python3: typevisor image pull debian-riscv64-userland)"
fi
echo "(ratios: CPU/wall; wall on a loaded machine mostly measures the other processes)"
