#!/usr/bin/env bash
# Static Arm64 speed estimate of whole compiled models (issue "Embedded Arm64: static speed estimate vs
# daBNN"): dynamic basic-block counts from qemu x llvm-mca cycle costs per block, summed over the run.
#
# Method
#   1. bench/Arm64Profile (a small driver: one model, a deterministic input, one thread, one preallocated
#      workspace) is published with Native AOT for linux-arm64; the executable keeps its symbol table, so
#      `llvm-objdump -d --no-show-raw-insn` lists every method's Arm64 code in LLVM syntax with addresses.
#   2. The driver runs the model twice; the second run is bracketed by calls of Program.ProfileBegin and
#      Program.ProfileEnd. It runs under qemu-aarch64 with a TCG plugin (bench/Arm64Profile/tbcount.c,
#      built here with clang) that counts every translation block (TB) with an inline add and keeps only the
#      executions between the two markers: the first run, startup, static constructors and everything
#      after the run are left out. A TB is a straight run of guest instructions ending at a branch (or a
#      page end); qemu reports its start address and instruction count, so a TB that starts in the middle
#      of a basic block is simply its own range. Load bias: qemu's start_code minus the executable's
#      p_vaddr of its text segment.
#   3. Each distinct TB's instructions are cut from the listing, branches dropped (as bench/arm64-estimate.sh
#      does; objdump already prints LLVM syntax, so no `eor .2d` rewrite is needed) and costed by llvm-mca
#      (Debian's LLVM 14) in steady state: Total Cycles / 100 iterations, all blocks as code regions of one
#      llvm-mca run per scheduling model, cached in WORKDIR/mca-cache.json. Estimated cycles = sum over
#      TBs of executions x cost, reported per method (symbol) and in total, for the runtime's and the
#      generated model's code and for everything in the window (corelib helpers, libc's memset: the latter
#      runs outside the executable and is counted in instructions only).
#   Models: cortex-a57 (LLVM 14 has no Cortex-A76/Neoverse-N1 model: -mcpu=cortex-a72/a76/neoverse-n1 all
#   resolve to the A57 model, 3-wide, so "a57" stands for A72..N1) and cortex-a55 (in-order little core).
#   Runs: `layer` (one BBCU-B unit 64->64) at 56x56, against daBNN's 1.28 ms for a 64->64 3x3 binary conv at
#   56x56 on one 2.15 GHz Pixel 1 (Kryo) core; `dncnn` (DnCNN-BBCU colour, nc 64, nb 20) at 320x180.
#
# Limits: llvm-mca models neither caches (every load hits L1) nor branch mispredictions nor the A76/N1's
# wider core; each block is costed in isolation and in steady state (a block that runs once per outer
# iteration is assumed to overlap with itself; no cost at block boundaries); branches are not costed;
# emulated runs measure nothing, only the counts come from qemu. The code is what Native AOT emits for
# linux-arm64's default instruction set (ARMv8.0 + AdvSimd), which may differ from the JIT's on a device.
#
# Needs: the .NET SDK with NuGet access (the ILCompiler packages), clang + lld, the arm64 cross libc
# (/usr/aarch64-linux-gnu), llvm (llvm-mca, llvm-objdump, llvm-readelf), python3, Debian's python3-torch
# (/usr/bin/python3) when the models are not yet generated, and a qemu-aarch64 that loads plugins: Debian's
# qemu-user (dynamically linked; qemu-aarch64-static cannot load plugins), installed with apt-get when
# missing (root or sudo). When qemu-aarch64-static is present too, a small run is also counted from its
# `-d in_asm,exec,nochain` log and must give the same per-instruction counts as the plugin (the check of the
# plugin's window; per instruction because the plugin's instrumentation can make qemu cut a long block in two).
#
# Usage: bash bench/arm64-profile.sh [WORKDIR]      (default: a new temp folder; about a minute when built)
# Env: ARM64_PROFILE_LAYER=56x56 ARM64_PROFILE_DNCNN=320x180 (sizes; "0" skips that model).
# Writes the models under bench/models/ (git-ignored, the same files bench/run.sh makes) and everything
# else under WORKDIR: the executable, listing.txt, <model>.tb (counts), <model>-blocks.tsv (every block
# with its executions, costs and instructions), <model>.txt (the tables).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d -t arm64-profile.XXXXXX)}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
layer_size="${ARM64_PROFILE_LAYER:-56x56}"
dncnn_size="${ARM64_PROFILE_DNCNN:-320x180}"
sysroot=/usr/aarch64-linux-gnu
t0=$SECONDS
log() { printf '[arm64-profile %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# ------------------------------------------------------------------ prerequisites
for tool in llvm-mca llvm-objdump llvm-readelf clang python3 dotnet; do
  command -v "$tool" >/dev/null || die "$tool not found (llvm, clang, python3 and the .NET SDK are needed)"
done
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || die "no arm64 cross libc in $sysroot (apt-get install libc6-arm64-cross)"
if ! command -v qemu-aarch64 >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing qemu-user (a qemu-aarch64 that loads TCG plugins)"
  apt-cache policy qemu-user 2>/dev/null | grep -q 'Candidate: [0-9]' || $sudo apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-user >/dev/null \
    || die "apt-get install qemu-user failed"
fi
qemu-aarch64 -h 2>&1 | grep -q -- '-plugin' || die "qemu-aarch64 has no plugin support (Debian's qemu-user has it)"

# ------------------------------------------------------------------ models (as bench/run.sh makes them)
M="$root/bench/models"
PY=/usr/bin/python3
mkdir -p "$M"
need_py() { "$PY" -c "import torch" 2>/dev/null || die "generating $1 needs Debian's python3-torch ($PY)"; }
if [ ! -f "$M/layer.json" ] || [ "$root/tools/export_onnx.py" -nt "$M/layer.json" ]; then
  need_py layer; log "generating bench/models/layer.*"
  (cd "$root" && "$PY" tools/export_onnx.py layer --channels 64 --seed 1 --width 320 --height 180 --out bench/models/layer >/dev/null)
fi
if [ ! -f "$M/dncnn_bbcu.safetensors" ] || [ "$root/tools/export_onnx.py" -nt "$M/dncnn_bbcu.safetensors" ]; then
  need_py dncnn_bbcu; log "generating bench/models/dncnn_bbcu.*"
  args=(--arg in_nc=3 --arg out_nc=3 --arg nc=64 --arg nb=20 --arg k=130)
  (cd "$root" && "$PY" tools/export_onnx.py checkpoint --arch dncnn "${args[@]}" --seed 1 --out bench/models/dncnn_bbcu.pth >/dev/null \
    && "$PY" tools/export_bbcu.py --arch dncnn --checkpoint bench/models/dncnn_bbcu.pth "${args[@]}" --out bench/models/dncnn_bbcu >/dev/null)
fi

# ------------------------------------------------------------------ build
log "publishing bench/Arm64Profile (Native AOT, linux-arm64)"
dotnet publish "$root/bench/Arm64Profile" -c Release -r linux-arm64 -p:LinkerFlavor=lld -p:CppCompilerAndLinker=clang \
  --artifacts-path "$work/artifacts" -o "$work/pub" -nologo -v q >"$work/publish.log" 2>&1 || { cat "$work/publish.log"; die "publish failed"; }
exe="$work/pub/Arm64Profile"
clang -O2 -Wall -shared -fPIC -o "$work/tbcount.so" "$root/bench/Arm64Profile/tbcount.c"
if [ ! -s "$work/listing.txt" ] || [ "$exe" -nt "$work/listing.txt" ]; then
  llvm-objdump -d --no-show-raw-insn "$exe" >"$work/listing.txt.tmp" && mv "$work/listing.txt.tmp" "$work/listing.txt"
fi
llvm-objdump -t "$exe" >"$work/symbols.txt"
sym() { awk -v s="$1" '$NF == s && !done { sub(/^0+/, "", $1); print $1; done = 1 }' "$work/symbols.txt"; }
begin=$(sym Arm64Profile_Bbcu_Arm64Profile_Program__ProfileBegin)
end=$(sym Arm64Profile_Bbcu_Arm64Profile_Program__ProfileEnd)
text=$(llvm-readelf -lW "$exe" | awk '$1 == "LOAD" && / E / && !done { sub(/^0x0*/, "", $3); print $3; done = 1 }')
[ -n "$begin" ] && [ -n "$end" ] && [ -n "$text" ] || die "marker symbols or text segment not found in $exe"
log "markers: ProfileBegin 0x$begin, ProfileEnd 0x$end; text segment at 0x$text"

# profile NAME MODEL WxH: counts of the second run -> $work/NAME.tb
profile() {
  local name=$1 model=$2 w=${3%x*} h=${3#*x}
  qemu-aarch64 -L "$sysroot" -plugin "$work/tbcount.so,text=$text,begin=$begin,end=$end,out=$work/$name.tb" \
    "$exe" "$model" "$w" "$h" >"$work/$name.out" 2>&1 || { cat "$work/$name.out"; die "$model run failed"; }
  grep -q '^markers 2$' "$work/$name.tb" || die "$name: the profiled window was not found (see $work/$name.tb)"
}

# ------------------------------------------------------------------ check: plugin counts = qemu's exec log
if command -v qemu-aarch64-static >/dev/null; then
  profile check layer 16x16
  rm -f "$work/check.fifo"; mkfifo "$work/check.fifo"
  # Per instruction, not per block: the plugin's instrumentation can make qemu cut a long block in two.
  # Addresses are keyed as hex strings: mawk turns numbers above 2^31 into array keys with "%.6g".
  hexfn='function hex(s,   i, c, v) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); v = v * 16 + c - 1 } return v }
    function key(s) { s = tolower(s); sub(/^0+/, "", s); return s }'
  awk -v text="$text" -v b="$begin" -v e="$end" "$hexfn"'
    $1 == "start_code" { bias = hex(substr($2, 3)) - hex(text); B = bias + hex(b); E = bias + hex(e) }
    /^IN:/ { inb = 1; n = 0; next }
    inb && /^0x[0-9a-fA-F]+:/ { if (n == 0) first = key(substr($1, 3, length($1) - 3)); n++; next }
    inb && (/^$/ || /^-+$/) { if (n) len[first] = n; inb = 0 }
    /^Trace / { split($0, f, /[][\/]/); k = key(f[3]); pc = hex(k); if (pc == B) on = 1; else if (pc == E) on = 0; if (on) c[sprintf("%x %d", pc - bias, len[k])]++ }
    END { for (k in c) { split(k, a, " "); s = hex(a[1]); for (i = 0; i < a[2]; i++) ic[sprintf("%x", s + 4 * i)] += c[k] } for (p in ic) print p, ic[p] }' "$work/check.fifo" | sort >"$work/check-log.counts" &
  reader=$!
  qemu-aarch64-static -L "$sysroot" -d page,in_asm,exec,nochain -D "$work/check.fifo" "$exe" layer 16 16 >/dev/null 2>&1 || true
  wait "$reader"
  rm -f "$work/check.fifo"
  awk "$hexfn"' $1 == "tb" { s = hex($2); for (i = 0; i < $3; i++) ic[sprintf("%x", s + 4 * i)] += $4 } END { for (p in ic) print p, ic[p] }' "$work/check.tb" | sort >"$work/check-plugin.counts"
  if cmp -s "$work/check-log.counts" "$work/check-plugin.counts"; then
    log "check: plugin counts = qemu-aarch64-static -d in_asm,exec,nochain counts ($(wc -l <"$work/check-plugin.counts") instructions, layer 16x16)"
  else
    die "check: plugin and exec-log counts differ ($work/check-log.counts vs $work/check-plugin.counts)"
  fi
fi

# ------------------------------------------------------------------ runs
run() { # run NAME SIZE [REFERENCE-MS REFERENCE-NAME]
  local name=$1 size=$2 w h
  [ "$size" = 0 ] && return
  w=${size%x*} h=${size#*x}
  log "$name ${w}x${h}: counting under qemu-aarch64 (two runs, the second counted)"
  profile "$name" "$name" "$size"
  log "$name ${w}x${h}: llvm-mca"
  local ref=()
  [ $# -ge 4 ] && ref=(--ref-ms "$3" --ref-name "$4")
  python3 "$root/bench/Arm64Profile/estimate.py" --listing "$work/listing.txt" --counts "$work/$name.tb" \
    --label "$name" --pixels $((w * h)) --work "$work" "${ref[@]}" >"$work/$name.txt"
  echo
  echo "== $name ${w}x${h} ($(cat "$work/$name.out"))"
  cat "$work/$name.txt"
}
if [ "$layer_size" = 56x56 ]; then run layer "$layer_size" 1.28 "daBNN 64->64 3x3 at 56x56, 2.15 GHz"; else run layer "$layer_size"; fi
run dncnn "$dncnn_size"
echo
echo "Methods: R: = Bbcu.Runtime (Bbcu namespace), M: = the generated model (bench/Arm64Profile), C: = System.Private.CoreLib."
echo "cyc/px: estimated cycles per output pixel (llvm-mca steady state per block x qemu's block counts); ms at 2.15 GHz (daBNN's Pixel 1 clock)."
echo "a57 is LLVM 14's Cortex-A57 model, which also stands for A72/A76/N1 (no newer model in LLVM 14); a55 the in-order little core."
echo "Work folder: $work ($((SECONDS - t0)) s)"
