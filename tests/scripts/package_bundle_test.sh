#!/usr/bin/env bash
# The release bundle (scripts/package.sh) runs on its own: unpacked into a fresh directory, with
# LD_LIBRARY_PATH unset and a clean environment, in a private mount namespace where the source
# and build trees are hidden (an empty tmpfs over them) and the system's copy of every bundled
# library is blanked (/dev/null bound over it), as on a host that has none of our Debian
# libraries. There `bin/hearth version`, `inspect` and a greedy `generate` on stories260K work,
# the text equals the build tree's, and ldd resolves every non-host library inside the bundle.
# Usage: bundle_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
tmp=$(mktemp -d /tmp/hearth-bundle-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

BUILD_DIR=$build DIST_DIR=$tmp/dist "$src/scripts/package.sh" --no-build
tarball=$(ls "$tmp"/dist/hearth-*-linux-x86_64.tar.gz)
mkdir "$tmp/host"
tar -xzf "$tarball" -C "$tmp/host"
b=$(ls -d "$tmp"/host/hearth-*)
cp "$src/tests/data/stories260K/stories260K.gguf" "$tmp/host/model.gguf"
prompt="Once upon a time"
"$build/hearth" generate --model "$tmp/host/model.gguf" --max-tokens 16 "$prompt" \
  >"$tmp/expected.txt" 2>/dev/null

[[ -f $b/README.md ]] && grep -q "Host requirements" "$b/README.md" || fail "README.md"
runpath=$(readelf -d "$b/bin/hearth" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')
[[ $runpath == '$ORIGIN/../lib'* ]] || fail "bin/hearth RUNPATH is '$runpath'"
for so in "$b"/lib/*; do
  rp=$(readelf -d "$so" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')
  [[ $rp == '$ORIGIN' ]] || fail "$(basename "$so") RUNPATH is '$rp'"
done

# The checks, run inside the isolated namespace by the script below.
cat >"$tmp/host/check.sh" <<'EOS'
set -euo pipefail
b=$1 prompt=$2
fail() { echo "FAIL: $*"; exit 1; }
cd "$(dirname "$b")"
# Libraries: bundled ones from lib/, the rest only glibc, the GCC runtime and the CUDA host set.
ldd "$b/bin/hearth" > ldd.txt || fail "ldd"
! grep -q "not found" ldd.txt || fail "unresolved: $(grep 'not found' ldd.txt)"
while read -r soname arrow path _; do
  [[ $arrow == "=>" ]] || continue
  if [[ -e $b/lib/$soname ]]; then
    [[ $path == "$b/lib/$soname" ]] || fail "$soname resolves to $path, not the bundle"
  else
    [[ $soname =~ ^(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|libcuda|libnvidia.*|libcublas|libcublasLt)\.so ]] ||
      fail "$soname ($path) is neither bundled nor a host library"
  fi
done < ldd.txt
"$b/bin/hearth" version > version.txt 2>&1 || fail "hearth version: $(cat version.txt)"
grep -q "$(sed -n 's/^# Hearth \([0-9.]*\).*/\1/p' "$b/README.md")" version.txt ||
  fail "version output: $(cat version.txt)"
"$b/bin/hearth" inspect model.gguf > inspect.txt 2>&1 || fail "inspect: $(cat inspect.txt)"
grep -q "parameters: *260032" inspect.txt || fail "inspect output: $(cat inspect.txt)"
"$b/bin/hearth" generate --model model.gguf --max-tokens 16 "$prompt" >generated.txt 2>gen.err ||
  fail "generate: $(cat gen.err)"
grep -q "decode: 16 tokens" gen.err || fail "generate stats: $(cat gen.err)"
echo "isolated run: ok ($(wc -l < ldd.txt) libraries resolved)"
EOS

if unshare -m --propagation private true 2>/dev/null; then
  hide=("$build" "$src")  # build first: it may lie inside src
  # The system copies of every bundled library, blanked for the check.
  blank=()
  while read -r soname path; do
    [[ -e $b/lib/$soname ]] && blank+=("$(readlink -f "$path")")
  done < <(ldd "$build/hearth" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
  unshare -m --propagation private bash -c '
    b=$1 prompt=$2 nhide=$3; shift 3
    for ((i = 0; i < nhide; i++)); do mount -t tmpfs none "$1"; shift; done
    for f in "$@"; do mount --bind /dev/null "$f"; done
    exec env -i PATH=/usr/bin:/bin HOME=/nonexistent bash "$(dirname "$b")/check.sh" "$b" "$prompt"
  ' _ "$b" "$prompt" "${#hide[@]}" "${hide[@]}" "${blank[@]}" || fail "isolated checks"
  echo "(source and build trees hidden, ${#blank[@]} system library copies blanked)"
else
  echo "note: no mount namespace here (unshare -m refused): checks run without hiding the trees"
  env -i PATH=/usr/bin:/bin HOME=/nonexistent bash "$tmp/host/check.sh" "$b" "$prompt" ||
    fail "checks"
fi
cmp -s "$tmp/expected.txt" "$tmp/host/generated.txt" ||
  fail "bundle's text differs from the build tree's: $(cat "$tmp/host/generated.txt")"
echo "PASS: $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
