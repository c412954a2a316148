#!/usr/bin/env bash
# Cross-ISA determinism check of the runtime kernels (tests/KernelCheck).
#
# Runs the same checks four or five ways and requires bit-identical output (every line "name sha256"):
#   x64            dotnet run -c Release (AVX2, and AVX-512 where the host has it; Vector<float> = 8)
#   x64-noavx512   DOTNET_EnableAVX512=0 (only on hosts with avx512f: the AVX2 paths; .NET 10 ignores
#                  DOTNET_EnableAVX512F=0, measured 2026-12-01, so the ISA line is checked)
#   x64-noavx2     DOTNET_EnableAVX2=0       (SSE, Vector<float> = 4)
#   x64-nohwintr   DOTNET_EnableHWIntrinsic=0 (no SIMD: scalar Vector<T> fallbacks)
#   arm64          linux-arm64 self-contained publish under qemu-aarch64-static (AdvSimd, Vector<float> = 4)
# Every kind of check is compared bit for bit: binary kernels (SignPack, Conv3x3, the AdvSimd popcount),
# float kernels (Conv2d, elementwise, activations), resampling, and whole compiled models (tests/fixtures,
# through the generated code: fused next-layer packs, in-place residuals, 2 threads, tiles). Where float outputs differ, the
# ulp distance per differing output is printed (KernelCheck --ulp) so the finding is explicit.
# Each run also checks its own results against scalar references (exit code 1 on a mismatch).
#
# Needs Debian's qemu-user-static, libc6-arm64-cross and libstdc++6-arm64-cross (installed with apt-get
# when missing; root or sudo). Usage: tests/arm64-check.sh [WORKDIR]   (default: a new temp folder)
# Env: KERNELCHECK_SKIP_ARM64=1 runs only the x64 variants; the result is then INCOMPLETE (exit 3), never PASS.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proj="$root/tests/KernelCheck"
work="${1:-$(mktemp -d -t kernelcheck.XXXXXX)}"
mkdir -p "$work"
art="$work/artifacts"     # all bin/obj of this check (keeps the tree's own bin/obj untouched)
sysroot=/usr/aarch64-linux-gnu
t0=$SECONDS
failed=0

log() { printf '[arm64-check %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# ------------------------------------------------------------------ prerequisites
install_prereqs() {
    local missing=()
    command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
    [ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || missing+=(libc6-arm64-cross)
    ls "$sysroot"/lib/libstdc++.so.6* >/dev/null 2>&1 || missing+=(libstdc++6-arm64-cross)
    [ ${#missing[@]} -eq 0 ] && { log "prerequisites present"; return; }
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing ${missing[*]}"
    # apt-get update only when the package lists do not know a package yet.
    local p
    for p in "${missing[@]}"; do
        if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            log "apt-get update"
            $sudo apt-get update -qq || die "apt-get update failed"
            break
        fi
    done
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------------------------ runs
# run_variant NAME EXPECTED-ISA-REGEX COMMAND...: output in $work/out-NAME.txt, dumps in $work/dump-NAME,
# stderr (ISA facts, reference mismatches) in $work/err-NAME.txt.
declare -A rc isa
variants=()
run_variant() {
    local name="$1" expect="$2"; shift 2
    variants+=("$name")
    rm -rf "$work/dump-$name"
    local s=$SECONDS
    "$@" "$work/out-$name.txt" --dump "$work/dump-$name" 2>"$work/err-$name.txt"
    rc[$name]=$?
    isa[$name]="$(grep -m1 '^isa:' "$work/err-$name.txt" | sed 's/^isa: //; s/ framework=.*//')"
    log "$name: exit ${rc[$name]}, $(wc -l <"$work/out-$name.txt" 2>/dev/null || echo 0) lines, $((SECONDS - s)) s; ${isa[$name]}"
    if [ "${rc[$name]}" -ne 0 ]; then
        failed=1
        log "$name: KernelCheck failed (reference mismatches or crash):"
        grep -v '^isa:' "$work/err-$name.txt" | head -20 >&2
    fi
    if ! grep -Eq "$expect" <<<"${isa[$name]}"; then
        failed=1
        log "$name: ISA not as expected (want /$expect/): the variant did not take effect"
    fi
}

install_prereqs

log "x64: dotnet run -c Release (build into $art)"
dotnet build "$proj" -c Release --artifacts-path "$art" -nologo -v q >"$work/build-x64.log" 2>&1 \
    || { cat "$work/build-x64.log" >&2; die "x64 build failed"; }
dll="$art/bin/KernelCheck/release/KernelCheck.dll"
[ -f "$dll" ] || die "no $dll"
host_avx512=0
grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && host_avx512=1
if [ "$host_avx512" = 1 ]; then
    run_variant x64 'arch=X64 avx512f=True avx512bw=True avx2=True' dotnet run --no-build -c Release --project "$proj" --artifacts-path "$art" --
    run_variant x64-noavx512 'arch=X64 avx512f=False avx512bw=False avx2=True' env DOTNET_EnableAVX512=0 dotnet "$dll"
else
    run_variant x64 'arch=X64 avx512f=False avx512bw=False avx2=True' dotnet run --no-build -c Release --project "$proj" --artifacts-path "$art" --
fi
run_variant x64-noavx2 'arch=X64 avx512f=False avx512bw=False avx2=False .*vector.accelerated=True vector<float>.count=4' env DOTNET_EnableAVX2=0 dotnet "$dll"
run_variant x64-nohwintr 'arch=X64 avx512f=False avx512bw=False avx2=False .*vector.accelerated=False' env DOTNET_EnableHWIntrinsic=0 dotnet "$dll"

skipped=""
if [ "${KERNELCHECK_SKIP_ARM64:-0}" = 1 ]; then
    skipped="arm64 (KERNELCHECK_SKIP_ARM64=1)"
else
    log "arm64: dotnet publish -r linux-arm64 --self-contained"
    dotnet publish "$proj" -c Release -r linux-arm64 --self-contained -o "$work/arm64" --artifacts-path "$art" -nologo -v q \
        >"$work/publish-arm64.log" 2>&1 || { cat "$work/publish-arm64.log" >&2; die "arm64 publish failed"; }
    # W^X off under qemu: the runtime writes and patches JIT code (GC write barriers, stubs) through a second,
    # writable mapping of the code pages, and qemu-user, like Rosetta (for which .NET turns W^X off itself,
    # dotnet/runtime#70910 and #102509), does not see a change to a page it has already translated. Measured
    # here on 2026-12-02: with W^X on, about 1 process in 15 gave a different bbcul_x4 output (5 times, always
    # the whole model, the same in the process's 1-thread, 2-thread and tiled runs) or crashed (once, with
    # aggressive GC); with it off, 0 in about 35. Native AOT binaries (tests/aot-check.sh) have no JIT code.
    run_variant arm64 'arch=Arm64 .*advsimd=True .*popcountAdvSimd=True' \
        env DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_EnableWriteXorExecute=0 qemu-aarch64-static -L "$sysroot" "$work/arm64/KernelCheck"
fi

# ------------------------------------------------------------------ comparison
family() { sed -E 's/^([a-z0-9]+)\..*/\1/'; }
echo
echo "==== KernelCheck cross-ISA summary (baseline: x64, $(wc -l <"$work/out-x64.txt") checks) ===="
printf '%-14s %-5s %-7s %-10s %s\n' variant exit lines differing isa
for v in "${variants[@]}"; do
    n=$(wc -l <"$work/out-$v.txt" 2>/dev/null || echo 0)
    if [ "$v" = x64 ]; then d="(base)"
    else
        # Line by line: same names in the same order, same hashes.
        d=$(diff <(cat "$work/out-x64.txt") <(cat "$work/out-$v.txt" 2>/dev/null) | grep -c '^<')
        extra=$(diff "$work/out-x64.txt" "$work/out-$v.txt" 2>/dev/null | grep -c '^>')
        [ "$d" -ne 0 ] || [ "$extra" -ne 0 ] || [ "$n" -eq 0 ] && failed=1
        [ "$extra" -gt "$d" ] && d="$d(+$((extra - d)) new)"
    fi
    printf '%-14s %-5s %-7s %-10s %s\n' "$v" "${rc[$v]}" "$n" "$d" "${isa[$v]}"
done
echo
echo "per kernel family (identical lines / checks):"
families=$(cut -d' ' -f1 "$work/out-x64.txt" | family | awk '!seen[$0]++')
printf '  %-16s' family; for v in "${variants[@]}"; do [ "$v" = x64 ] || printf ' %-14s' "$v"; done; echo
for f in $families; do
    total=$(cut -d' ' -f1 "$work/out-x64.txt" | family | grep -cx "$f")
    printf '  %-16s' "$f"
    for v in "${variants[@]}"; do
        [ "$v" = x64 ] && continue
        same=$(grep "^$f\." "$work/out-x64.txt" | grep -cxFf - "$work/out-$v.txt" 2>/dev/null)
        mark=""; [ "$same" -ne "$total" ] && mark=" DIFF"
        printf ' %-14s' "$same/$total$mark"
    done
    echo
done
for v in "${variants[@]}"; do
    [ "$v" = x64 ] && continue
    if ! cmp -s "$work/out-x64.txt" "$work/out-$v.txt"; then
        echo
        echo "---- $v vs x64: differing outputs (ulp distances for float outputs) ----"
        dotnet "$dll" --ulp "$work/dump-x64" "$work/dump-$v" | head -60
    fi
done
echo
if [ "$failed" -ne 0 ]; then
    echo "RESULT: FAIL - see above ($((SECONDS - t0)) s; outputs in $work)"
    exit 1
fi
if [ -n "$skipped" ]; then
    echo "RESULT: INCOMPLETE - ${#variants[@]} variants bit-identical, but $skipped was not run ($((SECONDS - t0)) s)"
    exit 3
fi
echo "RESULT: PASS - all ${#variants[@]} variants bit-identical, no reference mismatches ($((SECONDS - t0)) s; outputs in $work)"
exit 0
