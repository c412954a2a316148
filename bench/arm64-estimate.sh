#!/usr/bin/env bash
# Static speed estimate of the Arm64 binary-convolution kernel (issue 15's method, first version):
#   1. publish tests/KernelCheck for linux-arm64 and run it under qemu-aarch64-static with the JIT's
#      disassembly of PopcountAdvSimd.XorPopcount (FullOpts) written to a file;
#   2. cut out the inner loop and the per-group reduction, rewrite the JIT's `eor vA.2d` spelling as
#      `.16b` (the same instruction; LLVM's assembler accepts only .8b/.16b);
#   3. run llvm-mca (Debian's LLVM 14) with several scheduling models and turn cycles per iteration into
#      cycles per output pixel of a 64->64 3x3 binary conv, and milliseconds at 56x56 and 2.15 GHz
#      (daBNN's figure: 1.28 ms on one Pixel 1 core), next to the NEON CNT roofline of the same formulation.
# LLVM 14 has no Cortex-A76/Neoverse-N1 model: -mcpu=cortex-a72/a76/neoverse-n1/n2/v1/x1 all use the
# Cortex-A57 model (3-wide), which is what "a57" below stands for. Emulated runs measure nothing; the
# numbers are llvm-mca's, for the code the JIT emits today. Needs qemu-user-static, the arm64 cross libc
# and llvm (tests/arm64-check.sh installs the first two). Usage: bash bench/arm64-estimate.sh [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d -t arm64-estimate.XXXXXX)}"
mkdir -p "$work"
command -v llvm-mca >/dev/null || { echo "arm64-estimate: llvm-mca not found (apt-get install llvm)"; exit 2; }
command -v qemu-aarch64-static >/dev/null || { echo "arm64-estimate: qemu-aarch64-static not found (apt-get install qemu-user-static)"; exit 2; }

rm -f "$work/disasm.txt" # the JIT appends to it
dotnet publish "$root/tests/KernelCheck" -c Release -r linux-arm64 --self-contained -o "$work/kc" \
  --artifacts-path "$work/artifacts" -nologo -v q >"$work/publish.log" 2>&1 || { cat "$work/publish.log"; exit 1; }
DOTNET_TieredCompilation=0 DOTNET_JitDisasm='XorPopcount' DOTNET_JitStdOutFile="$work/disasm.txt" \
  DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 qemu-aarch64-static -L /usr/aarch64-linux-gnu "$work/kc/KernelCheck" "$work/kernelcheck.txt" >"$work/kernelcheck.log" 2>&1

# The listing's basic blocks: the inner loop is the block that ends with a backward branch to itself.
clean() { grep -vE '^[[:space:]]*;|^[[:space:]]*$|^[[:space:]]*align' | grep -vE '^[[:space:]]*(b|cb|tb)(\.|[a-z])*[[:space:]]' \
  | sed -E 's/\bfp\b/x29/g; s/eor +(v[0-9]+)\.2d, (v[0-9]+)\.2d, (v[0-9]+)\.2d/eor \1.16b, \2.16b, \3.16b/'; }
loop=$(awk '/^G_M[0-9]+_IG[0-9]+:/{label=$1; sub(":","",label); body=""; next} {body=body"\n"$0} /^[[:space:]]*b[a-z]+[[:space:]]+G_M/{ if ($2==label) { print body; exit } }' "$work/disasm.txt")
[ -n "$loop" ] || { echo "arm64-estimate: no self-looping block in the listing ($work/disasm.txt)"; exit 1; }
printf '%s\n' "$loop" | clean >"$work/loop.s"
# The per-group reduction and store: the blocks after the loop, up to the function's epilogue.
awk -v L="$(printf '%s\n' "$loop" | grep -m1 -E '^[[:space:]]*b[a-z]+[[:space:]]+G_M' | awk '{print $2}')" '
  $0 ~ "^"L":" {inloop=1; next} inloop && /^G_M[0-9]+_IG[0-9]+:/ {inloop=0; red=1; next}
  red && /^[[:space:]]*ret/ {exit} red && /^G_M[0-9]+_IG[0-9]+:/ {next} red && /ldp[[:space:]]+fp, lr/ {next} red {print}' \
  "$work/disasm.txt" | clean >"$work/reduce.s"
echo "inner loop ($(wc -l <"$work/loop.s") instructions; one 64-channel input word against 4 output channels):"
sed 's/^/    /' "$work/loop.s"

# 64->64, 3x3: 9 taps x 1 word against 16 groups of 4 outputs = 144 loop iterations and 16 reductions per pixel.
iters=144 groups=16 pixels=$((56 * 56)) ghz=2.15
roof=$(awk 'BEGIN { print 9 * 64 * 64 / 128 * 1.5 }')   # eor + cnt + add per 128 pairs on 2 ASIMD pipes
printf '\n%-12s %14s %16s %14s %12s %10s\n' model "cycles/iter" "cycles/reduction" "cycles/pixel" "ms @56x56" "x roofline"
for cpu in cortex-a57 cortex-a55 tsv110 apple-a13; do
  c=$(llvm-mca -mtriple=aarch64 -mcpu=$cpu -iterations=1000 "$work/loop.s" 2>/dev/null | awk '/Total Cycles/ { print $3 / 1000 }')
  r=$(llvm-mca -mtriple=aarch64 -mcpu=$cpu -iterations=1000 "$work/reduce.s" 2>/dev/null | awk '/Total Cycles/ { print $3 / 1000 }')
  awk -v m=$cpu -v c="$c" -v r="$r" -v it=$iters -v g=$groups -v px=$pixels -v ghz=$ghz -v roof="$roof" 'BEGIN {
    p = c * it + r * g; printf "%-12s %14.2f %16.2f %14.0f %12.2f %10.2f\n", (m == "cortex-a57" ? "a57 (A72..N1)" : m), c, r, p, p * px / (ghz * 1e6), p / roof }'
done
echo
echo "NEON CNT roofline: $roof cycles per pixel; daBNN: 1.28 ms at 56x56 on one 2.15 GHz Kryo core."
echo "Not counted: the sign-pack of the input, the epilogue, and the caller's per-pixel loop. Listing and inputs: $work"
