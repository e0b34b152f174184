#!/usr/bin/env bash
# Checks the TypeScript that jobwatch-codegen generates from schemas/:
#   1. generation succeeds and is deterministic, for schemas/ and for the
#      generator's fixtures (codegen/tests/fixtures/, which use constructs
#      schemas/ does not);
#   2. the modules and tests/*.ts compile under tsc --strict, and the
#      modules alone under stricter options users may have on;
#   3. each tests/must_fail/*.ts fails to compile, with the error its first
#      line names ("// must-fail: <text tsc prints>");
#   4. tests/sample_ok.ts runs, and the node:test suites (tests/*.test.ts)
#      pass: round trips of tests/data/samples/<stem>.json and
#      codec/tests/fixtures/<stem>.samples.json, rejections with JSON
#      Pointers, the JSON text limits, decide.mjs;
#   5. the 500 random schemas of the oracle test compile, and their
#      validators decide every document as python3-jsonschema did.
#
# Usage: ts/run-tests.sh REPO_ROOT SCRATCH_DIR
# SCRATCH_DIR is a directory in the build tree; its generated/, tests/,
# build/ and tsconfig*.json are replaced. TypeScript comes from
# ts/node_modules, which this script never installs: run `npm ci --prefix ts`.
# The last line printed is "N passed, N failed".
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 REPO_ROOT SCRATCH_DIR" >&2
  exit 2
fi
root=$(cd "$1" && pwd)
mkdir -p "$2"
scratch=$(cd "$2" && pwd)
ts="$root/ts"
if [[ ! -x "$ts/node_modules/.bin/tsc" ]]; then
  echo "run-tests.sh: $ts/node_modules has no tsc: run 'npm ci --prefix ts' first" >&2
  exit 2
fi
export npm_config_loglevel=error  # keep npx quiet about the user's npmrc

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
}
tsc() { (cd "$ts" && npx --no-install tsc "$@"); }
codegen() { /usr/bin/python3 "$root/codegen/jobwatch-codegen" --lang ts --out "$1" "$root"/schemas/*.schema.json; }

rm -rf "$scratch/generated" "$scratch/generated.again" "$scratch/fixtures" "$scratch/user" "$scratch/tests" "$scratch/build" \
  "$scratch"/tsconfig*.json

# 1. Generate, twice: the output must not depend on anything but the input.
if codegen "$scratch/generated"; then
  pass "jobwatch-codegen --lang ts"
else
  fail "jobwatch-codegen --lang ts"
  finish
fi
if codegen "$scratch/generated.again" && diff -r "$scratch/generated" "$scratch/generated.again"; then
  pass "generated TypeScript is deterministic"
else
  fail "generated TypeScript is deterministic"
fi
rm -rf "$scratch/generated.again"
fixtures=("$root"/codegen/tests/fixtures/*.schema.json)
if [[ -e "${fixtures[0]}" ]]; then
  if /usr/bin/python3 "$root/codegen/jobwatch-codegen" --lang ts --out "$scratch/fixtures" "${fixtures[@]}"; then
    pass "jobwatch-codegen --lang ts on the generator's fixtures"
  else
    fail "jobwatch-codegen --lang ts on the generator's fixtures"
  fi
fi

# A user's own event types (docs/events.md), generated apart, as jobwatch_generate(TS_OUT) does.
if /usr/bin/python3 "$root/codegen/jobwatch-codegen" --lang ts --out "$scratch/user" "$root/tests/data/custom_events.schema.json"; then
  pass "jobwatch-codegen --lang ts on a user's event types"
else
  fail "jobwatch-codegen --lang ts on a user's event types"
fi

# The tests import ../generated/index, so they sit beside generated/ here.
mkdir -p "$scratch/tests"
cp "$ts"/tests/*.ts "$ts/tests/decide.mjs" "$scratch/tests/"
cp -r "$ts/tests/must_fail" "$scratch/tests/"

# 2. Everything that must compile, strictly.
cat > "$scratch/tsconfig.json" <<JSON
{
  "extends": "$ts/tsconfig.json",
  "compilerOptions": { "rootDir": ".", "outDir": "build" },
  "include": ["generated/*.ts", "fixtures/*.ts", "user/*.ts", "tests/*.ts"]
}
JSON
if tsc -p "$scratch/tsconfig.json"; then
  pass "tsc --strict: generated modules, fixtures, sample_ok.ts and the test suites"
else
  fail "tsc --strict: generated modules, fixtures, sample_ok.ts and the test suites"
  finish
fi

# Users compile the generated modules with their own settings: they must
# pass the strictest ones too.
cat > "$scratch/tsconfig.pedantic.json" <<JSON
{
  "extends": "$ts/tsconfig.json",
  "compilerOptions": {
    "rootDir": ".",
    "noEmit": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "noPropertyAccessFromIndexSignature": true,
    "noUnusedParameters": true,
    "noImplicitOverride": true,
    "isolatedModules": true,
    "allowUnreachableCode": false
  },
  "include": ["generated/*.ts", "fixtures/*.ts", "user/*.ts"]
}
JSON
if tsc -p "$scratch/tsconfig.pedantic.json"; then
  pass "tsc: generated modules under the strictest options"
else
  fail "tsc: generated modules under the strictest options"
fi

# 3. Each must-fail file alone: tsc must reject it with the expected error.
for f in "$scratch"/tests/must_fail/*.ts; do
  name="must_fail/$(basename "$f")"
  expected=$(sed -n '1s|^// must-fail: ||p' "$f")
  if [[ -z "$expected" ]]; then
    fail "$name: first line must be '// must-fail: <expected error text>'"
    continue
  fi
  cat > "$scratch/tsconfig.must_fail.json" <<JSON
{
  "extends": "$ts/tsconfig.json",
  "compilerOptions": { "rootDir": ".", "noEmit": true },
  "files": ["$f"],
  "include": []
}
JSON
  if out=$(tsc -p "$scratch/tsconfig.must_fail.json" 2>&1); then
    fail "$name compiled, but must not"
  elif grep -qF -- "$expected" <<<"$out"; then
    pass "$name fails to compile: $expected"
  else
    fail "$name failed to compile, but not with: $expected"
    printf '%s\n' "$out" | sed 's/^/    /'
  fi
done
rm -f "$scratch/tsconfig.must_fail.json"

# 4. Run: the sample program, then the node:test suites.
if node "$scratch/build/tests/sample_ok.js"; then
  pass "sample_ok runs"
else
  fail "sample_ok runs"
fi

cp "$ts/tests/decide.mjs" "$scratch/build/tests/"
log="$scratch/build/node-test.tap"
set +e
sets="[{\"name\": \"schemas\", \"generated\": \"$scratch/build/generated/index.js\", \"samples\": \"$root/tests/data/samples\", \"suffix\": \".json\"}"
if [[ -e "$scratch/build/fixtures/index.js" ]]; then
  sets+=", {\"name\": \"fixtures\", \"generated\": \"$scratch/build/fixtures/index.js\", \"samples\": \"$root/codegen/tests/fixtures\", \"suffix\": \".samples.json\"}"
fi
JOBWATCH_SAMPLE_SETS="$sets]" node --test --test-reporter=tap "$scratch"/build/tests/*.test.js >"$log" 2>&1
status=$?
set -e
# Show each failure: its "not ok" line and the YAML block after it.
awk '/^not ok/ { show = 1 }
     /^  [a-zA-Z_]+:|^  \.\.\.$/ { skip = /^  (duration_ms|location|failureType|stack|code|name):/ }
     show && !skip { print }
     /^  \.\.\.$/ { show = 0 }' "$log"
n_pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
n_fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
n_skip=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
passed=$((passed + ${n_pass:-0}))
failed=$((failed + ${n_fail:-0}))
echo "node --test: ${n_pass:-0} passed, ${n_fail:-0} failed, ${n_skip:-0} skipped (log: $log)"
if [[ $status -ne 0 && ${n_fail:-0} -eq 0 ]]; then
  fail "node --test exited with status $status"
  tail -20 "$log"
fi

# 5. The random schemas of the oracle test (tests/oracle/random_schemas.py):
#    their modules compile under tsc --strict, and the generated validators
#    decide every document as python3-jsonschema did.
random="$scratch/random"
rm -rf "$random"
if /usr/bin/python3 "$root/tests/oracle/random_schemas.py" --out "$random/schemas" --count 500 --docs 20 2>/dev/null &&
   /usr/bin/python3 "$root/codegen/jobwatch-codegen" --lang ts --out "$random/generated" "$random"/schemas/*.schema.json; then
  cat > "$scratch/tsconfig.random.json" <<JSON
{
  "extends": "$ts/tsconfig.json",
  "compilerOptions": { "rootDir": "random", "outDir": "random/build" },
  "include": ["random/generated/*.ts"]
}
JSON
  if tsc -p "$scratch/tsconfig.random.json"; then
    pass "tsc --strict: the modules of 500 random schemas"
    /usr/bin/python3 - "$random/schemas/random_corpus.jsonl" "$random/requests.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        e = json.loads(line)
        out.write(json.dumps({"schema": e["schema"], "doc_hex": e["doc_hex"]}) + "\n")
PY
    node "$ts/tests/decide.mjs" "$random/build/generated/index.js" < "$random/requests.jsonl" > "$random/answers.txt"
    if mismatches=$(/usr/bin/python3 - "$random/schemas/random_corpus.jsonl" "$random/answers.txt" <<'PY'
import json, sys
answers = open(sys.argv[2]).read().split()
lines = open(sys.argv[1]).read().splitlines()
bad = [l for l, a in zip(lines, answers) if (a == "1") != json.loads(l)["valid"]]
if len(answers) != len(lines) or bad:
    print(f"{len(bad)} of {len(lines)} documents decided otherwise ({len(answers)} answers)")
    for l in bad[:10]:
        print("   ", l[:300])
    sys.exit(1)
print(f"{len(lines)} documents")
PY
    ); then
      pass "random schemas: the TypeScript validators decide as python3-jsonschema ($mismatches)"
    else
      fail "random schemas: the TypeScript validators decide as python3-jsonschema"
      printf '%s\n' "$mismatches"
    fi
  else
    fail "tsc --strict: the modules of 500 random schemas"
  fi
else
  fail "generating the random schemas and their TypeScript"
fi

finish
