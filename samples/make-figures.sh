#!/usr/bin/env bash
# The README's before/after strips, made by the sample apps themselves on the held-out photo:
#   docs/images/denoise.png   noisy (sigma 25) · restored · clean
#   docs/images/deblock.png   JPEG quality 20 · restored · clean (grey)
#   docs/images/sr4.png       bicubic x4 · BBCU-M x4 · clean
# Each shows the same 200x200 region of the photo's 512x512 (the face), at its own resolution, and
# below it a 66x50 part of it (an eye and the cheek, where blocks, noise and blur show) magnified 3x
# with nearest-neighbour pixels, so that the difference is visible at 1:1.
set -euo pipefail
cd "$(dirname "$0")/.."
photo=samples/images/astronaut.png
region=150,40,200,200
zoom=205,90,66,50
for s in Denoise Deblock SuperResolve; do dotnet build "samples/$s" -c Release -nologo -v:q >/dev/null; done
run() { local name=$1; shift; dotnet "samples/$name/bin/Release/net10.0/$name.dll" --input "$photo" "$@"; }
run Denoise --add-noise 25 --seed 1 --strip docs/images/denoise.png --strip-region $region --strip-zoom $zoom
run Deblock --jpeg-quality 20 --grey --strip docs/images/deblock.png --strip-region $region --strip-zoom $zoom
run SuperResolve --downscale 4 --strip docs/images/sr4.png --strip-region $region --strip-zoom $zoom
