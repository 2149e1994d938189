#!/usr/bin/env bash
# Builds the relocatable release bundle dist/hearth-<version>-linux-x86_64.tar.gz:
#   bin/hearth          RUNPATH $ORIGIN/../lib (then /usr/local/cuda/lib64 for the CUDA libraries)
#   lib/*.so*           every shared library hearth needs that is not part of the host (below),
#                       each with RUNPATH $ORIGIN so that their own dependencies resolve here too
#   share/licenses/     the Debian copyright file of each bundled library's package
#   README.md           version, commit, host requirements, what is bundled
#
# What counts as the host ("system") and is never bundled:
#   - glibc (libc, libm, libdl, libpthread, librt, libresolv, ld-linux) and the GCC runtime
#     (libstdc++, libgcc_s): every distribution has them; the README names the minimum versions
#     (the highest GLIBC_/GLIBCXX_ symbol versions the bundle references);
#   - the NVIDIA driver (libcuda, libnvidia-*): tied to the kernel module, never redistributable;
#   - cuBLAS and cuBLASLt (CUDA 13): ~600 MB together (libcublasLt alone is 540 MB), twenty times
#     the rest of the bundle; every CUDA 13 install has them. The CUDA runtime (libcudart, 0.7 MB)
#     is bundled when hearth links it dynamically (CMake links it statically by default).
# Usage: scripts/package.sh [--no-build]    (BUILD_DIR, default build; DIST_DIR, default dist)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DIST_DIR=${DIST_DIR:-dist}
if [[ ${1:-} != --no-build ]]; then
  cmake --build "$BUILD_DIR" --target hearth -j "${JOBS:-$(nproc)}"
fi
exe=$BUILD_DIR/hearth
[[ -x $exe ]] || { echo "package: $exe not found (build it, or set BUILD_DIR)" >&2; exit 1; }
command -v patchelf >/dev/null || { echo "package: patchelf missing (scripts/setup.sh installs it)" >&2; exit 1; }

version=$(sed -n 's/^project(hearth VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
name=hearth-$version-linux-x86_64
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then commit="$commit+changes"; fi
cuda=$(grep -q '^HEARTH_CUDA:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null && echo yes || echo no)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/$name
mkdir -p "$stage/bin" "$stage/lib" "$stage/share/licenses"
cp "$exe" "$stage/bin/hearth"
strip --strip-debug "$stage/bin/hearth"   # keeps the symbol table (readable backtraces)

is_host() {
  case $1 in
    linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*) return 0 ;;
    libstdc++.so*|libgcc_s.so*) return 0 ;;
    libcuda.so*|libnvidia*) return 0 ;;
    libcublas.so*|libcublasLt.so*) return 0 ;;
  esac
  return 1
}

# ldd lists the whole dependency closure as the loader resolves it here.
host_cuda=()
foreign=()   # bundled libraries that no Debian package owns (the CUDA toolkit's)
missing=$(env -u LD_LIBRARY_PATH ldd "$exe" | awk '/not found/{print $1}')
[[ -z $missing ]] || { echo "package: unresolved libraries: $missing" >&2; exit 1; }
while read -r soname path; do
  if is_host "$soname"; then
    case $soname in libcublas*) host_cuda+=("$soname") ;; esac
    continue
  fi
  cp -L "$path" "$stage/lib/$soname"
  chmod u+w "$stage/lib/$soname"
  patchelf --set-rpath '$ORIGIN' "$stage/lib/$soname"
  real=$(readlink -f "$path")
  # dpkg knows a file by the path its package installed (/lib or /usr/lib: usrmerge).
  pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || true)
  pkg=$(echo "$pkg" | head -1 | cut -d: -f1)
  if [[ -n $pkg && -f /usr/share/doc/$pkg/copyright ]]; then
    cp /usr/share/doc/"$pkg"/copyright "$stage/share/licenses/$pkg.copyright"
  else
    foreign+=("$soname (from $(dirname "$real"))")
  fi
done < <(env -u LD_LIBRARY_PATH ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')

rpath='$ORIGIN/../lib'
if ((${#host_cuda[@]})); then rpath="$rpath:/usr/local/cuda/lib64"; fi
patchelf --set-rpath "$rpath" "$stage/bin/hearth"

# The newest glibc / libstdc++ symbol versions anything in the bundle asks for.
max_version() {
  objdump -T "$stage/bin/hearth" "$stage"/lib/*.so* 2>/dev/null | grep -o "$1[0-9.]*" |
    sed "s/^$1//" | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1
}
glibc=$(max_version GLIBC_)
glibcxx=$(max_version GLIBCXX_)
bundled=$(cd "$stage/lib" && ls | tr '\n' ' ')
bundle_mb=$(du -sm "$stage" | cut -f1)

{
  echo "# Hearth $version (linux x86-64)"
  echo
  echo "Commit $commit, built $(date -u +%Y-%m-%d) on $(. /etc/os-release && echo "$PRETTY_NAME"),"
  echo "CUDA backend: $cuda. Self-hosted inference server for open-weight language models."
  echo
  echo "## Run"
  echo '```sh'
  echo 'bin/hearth version'
  echo 'bin/hearth inspect MODEL.gguf'
  echo 'bin/hearth serve --model MODEL.gguf            # gRPC on :50051, metrics on :9090'
  echo 'bin/hearth generate --model MODEL.gguf "Once upon a time"'
  echo '```'
  echo "The bundle can live in any directory: bin/hearth finds its libraries in ../lib."
  echo
  echo "## Host requirements"
  echo "- x86-64 Linux with glibc >= $glibc and a libstdc++ providing GLIBCXX_$glibcxx (these are"
  echo "  the newest symbol versions the bundle uses); libstdc++ and libgcc_s are not bundled."
  if [[ $cuda == yes ]]; then
    echo "- For --device cuda: an NVIDIA driver for CUDA 13 (R580 or newer; libcuda is the"
    echo "  driver's and is never bundled)."
    if ((${#host_cuda[@]})); then
      echo "  And CUDA 13's ${host_cuda[*]} on the loader's path (ldconfig, LD_LIBRARY_PATH, or"
      echo "  /usr/local/cuda/lib64, which bin/hearth's RUNPATH also names): not bundled, about"
      echo "  600 MB together (libcublasLt alone is 540 MB), shipped with every CUDA 13 install."
    else
      echo "  This build links no cuBLAS; the CUDA runtime (libcudart, 0.7 MB) is bundled."
    fi
    echo "  Without a GPU the CPU backend runs as usual."
  else
    echo "- This build is CPU-only (no CUDA backend): no GPU driver or CUDA library is needed."
  fi
  echo
  echo "## Bundled"
  echo "$bundled"
  echo
  echo "From Debian 12's packages (their copyright files are in share/licenses/)${foreign:+, except:}"
  for f in "${foreign[@]}"; do
    case $f in
      *"from /usr/local/cuda"*) echo "- $f: the CUDA toolkit's, redistributable under NVIDIA's CUDA EULA" ;;
      *) echo "- $f: owned by no Debian package" ;;
    esac
  done
} > "$stage/README.md"

mkdir -p "$DIST_DIR"
out=$DIST_DIR/$name.tar.gz
# Reproducible archive: sorted names, fixed owner and time, no gzip timestamp.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf - "$name" |
  gzip -n > "$out"
echo "package: $out ($(du -h "$out" | cut -f1), ${bundle_mb} MB unpacked; $(ls "$stage/lib" | wc -l) libraries bundled; CUDA: $cuda)"
echo "package: host needs glibc >= $glibc, GLIBCXX_$glibcxx${host_cuda:+, ${host_cuda[*]}}"
