#!/usr/bin/env bash
# Builds the dashboard into dist/, which the gateway embeds and serves at /:
#   dist/index.html, dist/assets/app.js (src/main.ts and the client, bundled
#   and minified by esbuild), dist/assets/app.css, dist/assets/favicon.svg.
# Idempotent; needs dashboard/node_modules (scripts/setup.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
esbuild="$here/node_modules/.bin/esbuild"
if [[ ! -x "$esbuild" ]]; then
  echo "dashboard/build.sh: dashboard/node_modules is missing: run scripts/setup.sh (or 'npm ci --prefix dashboard')" >&2
  exit 2
fi
# The client imports the generated types (type-only: esbuild erases them, the
# type check reads them). ts/generated/ is ignored by git; make it when absent.
if [[ ! -f "$root/ts/generated/server_message.ts" ]]; then
  /usr/bin/python3 "$root/codegen/jobwatch-codegen" --lang ts --out "$root/ts/generated" "$root"/schemas/*.schema.json
fi
# Build next to dist/, then swap it in whole: a reader sees the old files or the new ones, never a mix.
tmp=$(mktemp -d "$here/.dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/assets"
"$esbuild" "$here/src/main.ts" --bundle --format=esm --platform=browser --target=es2020 --minify \
  --legal-comments=none --charset=utf8 --outfile="$tmp/assets/app.js" --log-level=warning
cp "$here/index.html" "$tmp/index.html"
cp "$here/style.css" "$tmp/assets/app.css"
cp "$here/src/favicon.svg" "$tmp/assets/favicon.svg"
chmod -R a+rX "$tmp"
rm -rf "$here/dist"
# -T: never into a dist/ that another build.sh made meanwhile; then that one goes.
mv -T "$tmp" "$here/dist" 2>/dev/null || { rm -rf "$here/dist"; mv -T "$tmp" "$here/dist"; }
trap - EXIT
