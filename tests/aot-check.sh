#!/usr/bin/env bash
# Native AOT check (CI step): publish every sample with PublishAot for linux-x64 (set in the sample's
# project file), fail on any warning, run each native binary on the committed photo with its
# degradation, and compare its output PNG with the JIT build's output bit for bit. Prints each
# binary's size and its start-to-finish time. Needs the JIT builds first (`dotnet build
# BbcuCompiler.sln -c Release`, which `dotnet test` does).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
photo=samples/images/astronaut.png
status=0
run_case() { # name, args...
  local name=$1; shift
  local log="$out/$name.publish.log"
  if ! dotnet publish "samples/$name" -c Release -r linux-x64 -o "$out/$name" -nologo -tl:off >"$log" 2>&1; then
    cat "$log"; echo "aot-check: $name: publish failed"; status=1; return
  fi
  if grep -E "warning (IL|CS|NU|NETSDK)[0-9]+" "$log"; then
    echo "aot-check: $name: the AOT publish printed warnings (above)"; status=1; return
  fi
  local size; size=$(stat -c %s "$out/$name/$name")
  local t0 t1
  t0=$(date +%s%N)
  "$out/$name/$name" --input "$photo" "$@" --output "$out/$name.aot.png" --threads 2 >"$out/$name.aot.txt"
  t1=$(date +%s%N)
  dotnet "samples/$name/bin/Release/net10.0/$name.dll" --input "$photo" "$@" --output "$out/$name.jit.png" --threads 2 >"$out/$name.jit.txt"
  grep -E "restored|Native AOT" "$out/$name.aot.txt" | sed "s/^/  $name (AOT): /"
  if cmp -s "$out/$name.aot.png" "$out/$name.jit.png"; then
    printf 'aot-check: %s: AOT output identical to JIT; binary %.1f MiB; start to finish %d ms\n' \
      "$name" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$(( (t1 - t0) / 1000000 ))"
  else
    echo "aot-check: $name: the AOT output differs from the JIT output"; status=1
  fi
}
run_case Denoise --add-noise 25 --seed 1
run_case Deblock --jpeg-quality 20
run_case SuperResolve --downscale 4
rm -rf "$out"
exit $status
