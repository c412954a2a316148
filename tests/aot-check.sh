#!/usr/bin/env bash
# Native AOT check (CI step): publish every sample with PublishAot (set in the sample's project file) for
# linux-x64 and, cross-compiled on this x64 machine, for linux-arm64 (clang and lld: samples/Directory.Build.props);
# fail on any warning; run each native binary on the committed photo with its degradation (the Arm64 one
# under qemu-aarch64-static) and compare its output PNG with the x64 JIT build's output bit for bit.
# Prints each binary's size, its publish time and its start-to-finish time. Needs the JIT builds first
# (`dotnet build BbcuCompiler.sln -c Release`, which `dotnet test` does).
#
# The Arm64 half needs Debian's clang lld libc6-dev-arm64-cross libgcc-12-dev-arm64-cross (the README's
# cross-publish packages) and qemu-user-static; they are installed with apt-get when missing (root or
# sudo), and a failed install fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
photo=samples/images/astronaut.png
arm64_libs=/usr/aarch64-linux-gnu
status=0
t_all=$SECONDS

# The Arm64 cross-publish and run prerequisites; returns non-zero when they are missing and cannot be installed.
arm64_prereqs() {
  local missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  command -v ld.lld >/dev/null 2>&1 || missing+=(lld)
  [ -e "$arm64_libs/lib/crt1.o" ] || missing+=(libc6-dev-arm64-cross)
  [ -e /usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a ] || missing+=(libgcc-12-dev-arm64-cross)
  command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo="" p
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "aot-check: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the package lists do not know a package yet (no pipe into grep -q: with
  # pipefail, apt-cache killed by SIGPIPE would read as 'unknown').
  for p in "${missing[@]}"; do
    if ! grep -q 'Candidate: [0-9]' <<<"$(apt-cache policy "$p" 2>/dev/null)"; then
      $sudo apt-get update -qq || { echo "aot-check: apt-get update failed"; return 1; }
      break
    fi
  done
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "aot-check: apt-get install ${missing[*]} failed"; return 1; }
}

# publish NAME RID: the AOT publish into $out/NAME-RID, no warning allowed; sets pub_s (seconds).
publish() {
  local name=$1 rid=$2 log="$out/$1-$2.publish.log" t0=$SECONDS
  if ! dotnet publish "samples/$name" -c Release -r "$rid" -o "$out/$name-$rid" -nologo -tl:off >"$log" 2>&1; then
    cat "$log"; echo "aot-check: $name $rid: publish failed"; return 1
  fi
  pub_s=$(( SECONDS - t0 ))
  if grep -E "warning (IL|CS|NU|NETSDK)[0-9]+" "$log"; then
    echo "aot-check: $name $rid: the AOT publish printed warnings (above)"; return 1
  fi
}

# run_case NAME ARGS...: the x64 JIT build's output first, then each native binary's, compared with it.
run_case() {
  local name=$1; shift
  # Standard error (the samples' progress lines) goes to a file, shown when a run fails.
  if ! dotnet "samples/$name/bin/Release/net10.0/$name.dll" --input "$photo" "$@" --output "$out/$name.jit.png" --threads 2 \
       >"$out/$name.jit.txt" 2>"$out/$name.jit.err"; then
    cat "$out/$name.jit.txt" "$out/$name.jit.err"; echo "aot-check: $name: the JIT build failed"; status=1; return
  fi
  local rid
  for rid in "${rids[@]}"; do
    local bin="$out/$name-$rid/$name" run=() size t0 t1
    publish "$name" "$rid" || { status=1; continue; }
    [ "$rid" = linux-arm64 ] && run=(qemu-aarch64-static -L "$arm64_libs")
    size=$(stat -c %s "$bin")
    t0=$(date +%s%N)
    if ! "${run[@]}" "$bin" --input "$photo" "$@" --output "$out/$name.$rid.png" --threads 2 \
         >"$out/$name.$rid.txt" 2>"$out/$name.$rid.err"; then
      cat "$out/$name.$rid.txt" "$out/$name.$rid.err"; echo "aot-check: $name $rid: the native binary failed"; status=1; continue
    fi
    t1=$(date +%s%N)
    grep -E "restored|Native AOT" "$out/$name.$rid.txt" | sed "s/^/  $name ($rid AOT): /"
    if cmp -s "$out/$name.$rid.png" "$out/$name.jit.png"; then
      printf 'aot-check: %s %s: AOT output identical to the x64 JIT output; binary %.1f MiB; published in %d s; start to finish %d ms%s\n' \
        "$name" "$rid" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$pub_s" "$(( (t1 - t0) / 1000000 ))" \
        "$([ ${#run[@]} -gt 0 ] && echo ' (under qemu)')"
    else
      echo "aot-check: $name $rid: the AOT output differs from the x64 JIT output"; status=1
    fi
  done
}

rids=(linux-x64 linux-arm64)
if ! arm64_prereqs; then
  echo "aot-check: the linux-arm64 prerequisites are missing: linux-arm64 not checked (a failure)"
  status=1; rids=(linux-x64)
fi
run_case Denoise --add-noise 25 --seed 1
run_case Deblock --jpeg-quality 20
run_case SuperResolve --downscale 4
rm -rf "$out"
echo "aot-check: $([ $status -eq 0 ] && echo PASS || echo FAIL) ($(( SECONDS - t_all )) s)"
exit $status
