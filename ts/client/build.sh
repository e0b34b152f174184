#!/usr/bin/env bash
# Builds @jobwatch/client into dist/: the generated types (from schemas/)
# and src/ bundled by esbuild into one ESM file, and .d.ts by tsc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [[ ! -x "$here/node_modules/.bin/esbuild" ]]; then
  echo "ts/client/build.sh: no node_modules: run 'npm ci --prefix ts/client' (scripts/setup.sh does)" >&2
  exit 2
fi
rm -rf "$here/dist" "$here/../generated"
# ts/generated/ is ignored by git (see ts/tsconfig.json); src/ imports from it.
/usr/bin/python3 "$root/codegen/jobwatch-codegen" --lang ts --out "$here/../generated" "$root"/schemas/*.schema.json
"$here/node_modules/.bin/esbuild" "$here/src/index.ts" --bundle --format=esm --platform=neutral --target=es2020 \
  --outfile="$here/dist/index.js" --log-level=warning
(cd "$here" && node_modules/.bin/tsc -p tsconfig.json)
# Consumers on moduleResolution node16/nodenext need file extensions in the
# relative imports of ESM declarations; tsc keeps the source's extensionless ones.
find "$here/dist/types" -name '*.d.ts' -exec sed -i -E -e 's#(from|import) "(\.{1,2}/[^"]+)"#\1 "\2.js"#g' -e 's#\.js\.js"#.js"#g' {} +
