// Accept/reject oracle over the generated TypeScript parsers, for
// differential tests against the C++ ones.
//
//   node decide.mjs [path/to/compiled/generated/index.js] < requests > answers
//
// Each input line is {"schema": "<stem>", "doc_hex": "<hex of the document
// bytes>"}; each output line is 1 when roots[<stem>] (the parser of that
// schema file's root type) accepts the document, else 0. Bytes that are not
// UTF-8 answer 0, as the C++ parser rejects them. A leading BOM is kept
// (ignoreBOM), so it reaches JSON.parse and is rejected there, as in C++. A
// malformed request line or an unknown stem is a harness error: exit 2.
// Blank lines are skipped and get no answer.
// run-tests.sh puts this file next to the compiled tests, so by default the
// generated modules are found at ../generated/index.js.

import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const modulePath = path.resolve(process.argv[2] ?? path.join(here, "..", "generated", "index.js"));
const { roots } = createRequire(import.meta.url)(modulePath);
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function die(message) {
  process.stderr.write(`decide.mjs: ${message}\n`);
  process.exit(2);
}

function decide(schema, hex) {
  const parse = Object.prototype.hasOwnProperty.call(roots, schema) ? roots[schema] : undefined;
  if (parse === undefined)
    die(`unknown schema ${JSON.stringify(schema)}; known: ${Object.keys(roots).join(", ")}`);
  let text;
  try {
    text = decoder.decode(Buffer.from(hex, "hex"));
  } catch {
    return 0;  // not UTF-8
  }
  return parse(text).ok ? 1 : 0;
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
let n = 0;
for await (const line of lines) {
  ++n;
  if (line.trim() === "")
    continue;
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    die(`line ${n}: not JSON`);
  }
  const hex = request?.doc_hex;
  if (typeof request?.schema !== "string" || typeof hex !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(hex))
    die(`line ${n}: expected {"schema": "<stem>", "doc_hex": "<even-length hex>"}`);
  process.stdout.write(decide(request.schema, hex) + "\n");
}
