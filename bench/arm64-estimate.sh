#!/usr/bin/env bash
# Static speed estimate of the Arm64 binary convolution (issue 15's method):
#   1. publish tests/KernelCheck for linux-arm64 and run it under qemu-aarch64-static with the JIT's FullOpts
#      disassembly of the binary-conv kernels written to a file (DOTNET_JitDisasm; KernelCheck compiles the
#      paper DnCNN-BBCU, so the listing is the code a real 64->64 layer gets: PReLU, bias, residual and the
#      next layer's sign-and-pack fused, its layer struct's constants folded);
#   2. cut the hot code out of the listing (bench/arm64-loops.py): one iteration of the specialised kernel's
#      loop over quads (a pair of quads, 8 pixels x 4 output channels, three rows of taps, and the reductions,
#      epilogues and stores of the pair before, the loop being software-pipelined; costed per quad), the fused
#      sign-pack's per-channel loop, and the generic per-pixel kernel's loop and reduction (layers wider than
#      64 input channels);
#   3. run llvm-mca (Debian's LLVM 14) on them with several scheduling models. A quad is costed as one
#      straight run, repeated, so the model overlaps one quad's epilogue with the next one's popcounts as an
#      out-of-order core would. Per interior output pixel of a 64->64 3x3 layer: 16 groups x quad / 4.
#   4. compare with the NEON CNT roofline of the same formulation (EOR + CNT + byte ADD per 128 weight/
#      activation pairs, 288 per pixel), measured per model by llvm-mca on independent triples, and with
#      daBNN's 1.28 ms for this layer at 56x56 on one 2.15 GHz Kryo core (Pixel 1).
# Models: kryo is daBNN's own core; LLVM 14 has no Cortex-A76/Neoverse-N1 model (-mcpu=cortex-a72/a76/
# neoverse-n1/n2 all give the Cortex-A57 model, 3-wide, 128-bit FP ops as two 64-bit uops), so "a57" stands
# for A72..N1 and overstates the float epilogue on A76-class cores; a55 is the in-order little core; apple-a13
# a wide upper bound. Not counted: the quads at the left and right edges (the same code with two EXTs; costed
# with everything else by bench/arm64-profile.sh), pixels with a tap exactly at its threshold, the caller's loops.
# llvm-mca models neither caches nor branch prediction. W^X is off under qemu (see tests/arm64-check.sh). Needs qemu-user-static, the arm64 cross libc, llvm
# and python3. Usage: bash bench/arm64-estimate.sh [WORKDIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d -t arm64-estimate.XXXXXX)}"
mkdir -p "$work"
command -v llvm-mca >/dev/null || { echo "arm64-estimate: llvm-mca not found (apt-get install llvm)"; exit 2; }
command -v qemu-aarch64-static >/dev/null || { echo "arm64-estimate: qemu-aarch64-static not found (apt-get install qemu-user-static)"; exit 2; }

rm -f "$work/disasm.txt" # the JIT appends to it
dotnet publish "$root/tests/KernelCheck" -c Release -r linux-arm64 --self-contained -o "$work/kc" \
  --artifacts-path "$work/artifacts" -nologo -v q >"$work/publish.log" 2>&1 || { cat "$work/publish.log"; exit 1; }
DOTNET_EnableWriteXorExecute=0 DOTNET_TieredCompilation=0 DOTNET_JitDisasm='ConvBandAdvSimdOneWord PackBandAdvSimd XorPopcount' DOTNET_JitStdOutFile="$work/disasm.txt" \
  DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 qemu-aarch64-static -L /usr/aarch64-linux-gnu "$work/kc/KernelCheck" "$work/kernelcheck.txt" >"$work/kernelcheck.log" 2>&1

loops="python3 $root/bench/arm64-loops.py $work/disasm.txt"
layer='Binary64To64_PRelu_Bias1_Residual_PacksNext](byref'
nq=$(python3 "$root/bench/arm64-loops.py" --quad "$work/disasm.txt" "ConvBandAdvSimdOneWord[KernelCheck.PaperDnCnn+$layer" cnt "$work/quad.s")
$loops 'PackBandAdvSimd(' fcmgt "$work/pack.s"
$loops 'PopcountAdvSimd:XorPopcount(' cnt "$work/generic.s" "$work/generic-rest.s"
# The roofline's formulation: 24 independent EOR/CNT/ADD triples into 8 accumulators.
for i in $(seq 0 23); do
  t=$((i % 8)); a=$((16 + i % 8)); x=$((24 + i % 4)); w=$((28 + (i / 4) % 4))
  printf 'eor v%d.16b, v%d.16b, v%d.16b\ncnt v%d.16b, v%d.16b\nadd v%d.16b, v%d.16b, v%d.16b\n' $t $x $w $t $t $a $a $t
done >"$work/roof.s"

echo "specialised kernel, paper DnCNN-BBCU 64->64 layer: one iteration of the loop over quads, $nq quad(s) of 4 pixels x 4 channels"
echo "(9 taps) with $nq quad epilogue(s) (reduction, epilogue, stores), $(wc -l <"$work/quad.s") instructions:"
awk '{ n[$1]++ } END { for (m in n) printf "%s %d\n", m, n[m] }' "$work/quad.s" | sort -k2,2nr -k1,1 | awk '{ printf "%s%s %d", (NR > 1 ? ", " : "    "), $1, $2 } END { print "" }'
echo "fused sign-pack per channel and 4 pixels: $(wc -l <"$work/pack.s") instructions"

cyc() { llvm-mca -mtriple=aarch64 -mcpu="$1" -iterations="$3" "$2" 2>/dev/null | awk -v n="$3" '/Total Cycles/ { print $3 / n }'; }
px=$((56 * 56)) ghz=2.15
printf '\n%-13s %9s %9s %9s %9s %9s %10s %10s %9s %9s\n' model "roof/px" "roof/q" "quad" "conv/px" "x roof" "+pack/px" "ms@56x56" "+pack ms" "generic"
for cpu in kryo cortex-a57 cortex-a55 apple-a13; do
  roof=$(cyc $cpu "$work/roof.s" 500); quad=$(awk -v c="$(cyc $cpu "$work/quad.s" 300)" -v n="$nq" 'BEGIN { print c / n }')
  pack=$(cyc $cpu "$work/pack.s" 300); gen=$(cyc $cpu "$work/generic.s" 300); genr=$(cyc $cpu "$work/generic-rest.s" 300)
  awk -v m=$cpu -v roof="$roof" -v quad="$quad" -v pack="$pack" -v gen="$gen" -v genr="$genr" -v px=$px -v ghz=$ghz 'BEGIN {
    r = roof / 24 * 288; conv = 16 * quad / 4; withpack = conv + 64 * pack / 4; generic = 144 * gen + 16 * genr
    printf "%-13s %9.0f %9.1f %9.1f %9.0f %9.2f %10.0f %10.2f %9.2f %9.0f\n", (m == "cortex-a57" ? "a57 (A72..N1)" : m),
      r, roof * 3, quad, conv, conv / r, withpack, conv * px / (ghz * 1e6), withpack * px / (ghz * 1e6), generic }'
done
cat <<EOF

roof/px: the NEON CNT roofline, cycles per output pixel (288 EOR+CNT+ADD triples); roof/q: per quad (72 triples).
quad: cycles per quad in steady state (9 taps + a quad's epilogue; the loop's iteration over the quads it holds). conv/px = 16 x quad / 4 for an interior pixel; +pack adds the fused
sign-and-pack of the next layer's input (64 channels). ms at 56x56 and 2.15 GHz; daBNN: 1.28 ms (Kryo, 2.15 GHz).
generic: the per-pixel kernel (borders, multi-word layers; XorPopcount, 144 loop iterations + 16 reductions per
pixel, no epilogue). Listing and inputs: $work
EOF
