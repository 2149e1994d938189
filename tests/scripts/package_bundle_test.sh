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

# The checks, run inside the isolated namespace by the script below. Only bash builtins, the
# dynamic loader and bin/hearth run there: grep, sed and the like need libraries (libpcre2) that
# are blanked.
cat >"$tmp/host/check.sh" <<'EOS'
set -euo pipefail
b=$1 prompt=$2
fail() { echo "FAIL: $*"; exit 1; }
has() { [[ $(<"$1") =~ $2 ]]; }
cd "${b%/*}"
# Libraries (ldd's listing, straight from the loader): the bundled ones from lib/, the rest only
# glibc, the GCC runtime and the host's CUDA/driver libraries.
LD_TRACE_LOADED_OBJECTS=1 /lib64/ld-linux-x86-64.so.2 "$b/bin/hearth" > ldd.txt || fail "ldd"
! has ldd.txt "not found" || fail "unresolved libraries: $(<ldd.txt)"
n=0
while read -r soname arrow path _; do
  [[ $arrow == "=>" ]] || continue
  n=$((n + 1))
  path=${path//\/bin\/..\/lib\//\/lib\/}
  if [[ -e $b/lib/$soname ]]; then
    [[ $path == "$b/lib/$soname" ]] || fail "$soname resolves to $path, not the bundle"
  else
    [[ $soname =~ ^(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|libcuda|libnvidia.*|libcublas|libcublasLt)\.so ]] ||
      fail "$soname ($path) is neither bundled nor a host library"
  fi
done < ldd.txt
"$b/bin/hearth" version > version.txt 2>&1 || fail "hearth version: $(<version.txt)"
[[ $(<"$b/README.md") =~ \#\ Hearth\ ([0-9.]+) ]] && version=${BASH_REMATCH[1]}
has version.txt "$version" || fail "version output: $(<version.txt) (README: $version)"
"$b/bin/hearth" inspect model.gguf > inspect.txt 2>&1 || fail "inspect: $(<inspect.txt)"
has inspect.txt "parameters: +260032" || fail "inspect output: $(<inspect.txt)"
"$b/bin/hearth" generate --model model.gguf --max-tokens 16 "$prompt" >generated.txt 2>gen.err ||
  fail "generate: $(<gen.err)"
has gen.err "decode: 16 tokens" || fail "generate stats: $(<gen.err)"
echo "isolated run: ok ($n libraries resolved)"
EOS

if unshare -m --propagation private true 2>/dev/null; then
  hide=("$build" "$src")  # build first: it may lie inside src
  # The system copies of every bundled library, blanked for the check.
  # mount itself needs libpcre2: blank it last.
  blank=() last=()
  while read -r soname path; do
    [[ -e $b/lib/$soname ]] || continue
    if [[ $soname == libpcre2* ]]; then last+=("$(readlink -f "$path")"); else blank+=("$(readlink -f "$path")"); fi
  done < <(ldd "$build/hearth" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
  blank+=("${last[@]}")
  unshare -m --propagation private bash -c '
    b=$1 prompt=$2 nhide=$3; shift 3
    for ((i = 0; i < nhide; i++)); do mount -t tmpfs none "$1"; shift; done
    for f in "$@"; do mount --bind /dev/null "$f"; done
    exec /usr/bin/env -i PATH=/usr/bin:/bin HOME=/nonexistent /bin/bash "${b%/*}/check.sh" "$b" "$prompt"
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
