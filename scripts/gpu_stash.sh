#!/usr/bin/env bash
# Moves a file too large for one device call (64 MiB with the tree) to the GPU machine in parts:
# each call carries one part in .dsv/ (ignored by git) and stashes it in /tmp/hearth-stash, which
# stays while the machine is warm (calls less than ~30 s apart); the last call assembles it.
#   here:   scripts/gpu_stash.sh split FILE NAME [PART_MB]   -> .dsv/NAME.part-* + .dsv/NAME.sha256
#   there:  scripts/gpu_stash.sh put                          (copies carried .dsv/* into the stash)
#           scripts/gpu_stash.sh get NAME                     (prints the assembled file's path;
#                                                              exit 1 while parts are missing)
# scripts/gpu_check.sh runs `put` itself and uses a stashed smollm2.gguf for the runner tests.
set -euo pipefail
cd "$(dirname "$0")/.."
STASH=${STASH:-/tmp/hearth-stash}
case ${1:-} in
  split)
    file=$2 name=$3 mb=${4:-40}
    mkdir -p .dsv
    rm -f ".dsv/$name".part-* ".dsv/$name.sha256"
    split -b "${mb}M" "$file" ".dsv/$name.part-"
    sha256sum <"$file" | sed "s|-\$|$name|" >".dsv/$name.sha256"
    echo "parts of $file (carry one per call, each with .dsv/$name.sha256):"
    ls -la .dsv/"$name".part-*
    ;;
  put)
    mkdir -p "$STASH"
    if compgen -G ".dsv/*" >/dev/null; then cp .dsv/* "$STASH/"; fi
    ls -la "$STASH"
    ;;
  get)
    name=$2
    [[ -f $STASH/$name.sha256 ]] || { echo "no $name.sha256 stashed" >&2; exit 1; }
    if [[ ! -f $STASH/$name ]] || ! (cd "$STASH" && sha256sum -c --status "$name.sha256"); then
      (cd "$STASH" && cat "$name".part-* >"$name" && sha256sum -c --status "$name.sha256") ||
        { echo "$name: parts missing or corrupt in $STASH" >&2; rm -f "$STASH/$name"; exit 1; }
    fi
    echo "$STASH/$name"
    ;;
  *)
    sed -n 2,9p "$0" >&2
    exit 2
    ;;
esac
