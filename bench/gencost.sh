#!/usr/bin/env bash
# What the generator costs a user's build (docs/compiler.md, "Build cost"): exports a paper-size
# BBCU-L x4 from a random checkpoint (bench/models/bbcul_x4.*, git-ignored), then runs the real
# generator driver on it: first run, compile of the generated sources, each kind of edit, and a
# weights file with 100 000 unused tensors.
#   bash bench/gencost.sh [--repeat N] [--extra-tensors N]
# Needs the .NET 10 SDK and Debian's python3-torch (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
M=bench/models
mkdir -p "$M"
"$PY" -c "import torch" 2>/dev/null || { echo "gencost.sh: needs Debian's python3-torch (apt-get install python3-torch)" >&2; exit 3; }
ARGS=(--arg num_in_ch=3 --arg num_out_ch=3 --arg num_feat=64 --arg num_block=16 --arg upscale=4 --arg k=130)
if [ ! -f "$M/bbcul_x4.safetensors" ] || [ -n "$(find tools/export_bbcu.py tools/bbcu_export -name "*.py" -newer "$M/bbcul_x4.safetensors")" ]; then
  "$PY" tools/export_onnx.py checkpoint --arch bbcul "${ARGS[@]}" --seed 1 --out "$M/bbcul_x4.pth"
  "$PY" tools/export_bbcu.py --arch bbcul --checkpoint "$M/bbcul_x4.pth" "${ARGS[@]}" --out "$M/bbcul_x4"
fi
echo "// $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
dotnet run -c Release --project bench/Bbcu.GenCost -- "$M/bbcul_x4" "$@"
