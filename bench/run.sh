#!/usr/bin/env bash
# Benchmarks (docs/performance.md): generate the models, build, run BenchmarkDotNet.
#   bash bench/run.sh                 # everything (about 20 minutes on 2 cores)
#   bash bench/run.sh --filter '*Layer*'   # extra arguments go to BenchmarkDotNet
# Needs the .NET 10 SDK, NuGet access and Debian's python3-torch (/usr/bin/python3).
# Installs nothing; writes the models under bench/models/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
M=bench/models
W=320
H=180
mkdir -p "$M"
"$PY" -c "import torch" 2>/dev/null || { echo "run.sh: needs Debian's python3-torch (apt-get install python3-torch)" >&2; exit 3; }

gen() { # gen NAME ARCH ARGS... : checkpoint, our JSON+safetensors, two ONNX forms
  local name=$1 arch=$2; shift 2
  local args=()
  for a in "$@"; do args+=(--arg "$a"); done
  if [ ! -f "$M/$name.safetensors" ] || [ tools/export_onnx.py -nt "$M/$name.safetensors" ]; then
    "$PY" tools/export_onnx.py checkpoint --arch "$arch" "${args[@]}" --seed 1 --out "$M/$name.pth"
    "$PY" tools/export_bbcu.py --arch "$arch" --checkpoint "$M/$name.pth" "${args[@]}" --out "$M/$name"
    for form in training lean; do
      "$PY" tools/export_onnx.py onnx --arch "$arch" --checkpoint "$M/$name.pth" "${args[@]}" \
        --form "$form" --width $W --height $H --out "$M/${name}_$form.onnx"
    done
  fi
}

if [ ! -f "$M/layer.json" ] || [ tools/export_onnx.py -nt "$M/layer.json" ]; then
  "$PY" tools/export_onnx.py layer --channels 64 --seed 1 --width $W --height $H --out "$M/layer"
fi
gen dncnn_bbcu dncnn in_nc=3 out_nc=3 nc=64 nb=20 k=130
gen bbcum_x4 bbcum num_in_ch=3 num_out_ch=3 num_feat=64 num_block=16 upscale=4 k=130
if [ ! -f "$M/dncnn_float.onnx" ] || [ tools/export_onnx.py -nt "$M/dncnn_float.onnx" ]; then
  "$PY" tools/export_onnx.py float-dncnn --in-nc 3 --nc 64 --nb 20 --seed 1 --width $W --height $H --out "$M/dncnn_float.onnx"
fi

if [ ! -f "$M/dncnn_bbcu_lean_1080p.onnx" ] || [ "$M/dncnn_bbcu.pth" -nt "$M/dncnn_bbcu_lean_1080p.onnx" ]; then
  "$PY" tools/export_onnx.py onnx --arch dncnn --checkpoint "$M/dncnn_bbcu.pth" --arg in_nc=3 --arg out_nc=3 \
    --arg nc=64 --arg nb=20 --arg k=130 --form lean --width 1920 --height 1080 --out "$M/dncnn_bbcu_lean_1080p.onnx"
fi

dotnet build -c Release bench/Bbcu.Bench -v q -nologo
# The host first: every figure below is this host's (compare only ratios measured in one run).
echo "// $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'); flags: $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|avx512[a-z_0-9]*|gfni|vpclmulqdq)$' | tr '\n' ' ')"
dotnet run -c Release --no-build --project bench/Bbcu.Bench -- --isa
# Per-layer specialised binary kernel vs the unspecialised one, same process (docs/compiler.md).
dotnet run -c Release --no-build --project bench/Bbcu.Bench -- --spec-ab
# Correctness (ours vs ORT lean) and the 1920x1080 memory figures, each in a fresh process.
dotnet run -c Release --no-build --project bench/Bbcu.Bench -- --check
dotnet run -c Release --no-build --project bench/Bbcu.Bench -- --peak ours
dotnet run -c Release --no-build --project bench/Bbcu.Bench -- --peak ort-lean
if [ $# -eq 0 ]; then set -- --filter '*'; fi
dotnet run -c Release --no-build --project bench/Bbcu.Bench -- "$@"
