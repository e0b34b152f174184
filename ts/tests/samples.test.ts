// Round trips (node:test): for every schema file with samples, each sample
// parses with the parser of the file's root type, comes back unchanged, and
// serializes back to the same JSON.
//
// JOBWATCH_SAMPLE_SETS (set by run-tests.sh) is a JSON array of
// {"name", "generated": compiled index.js, "samples": directory, "suffix"}:
// the samples of <stem> are <samples>/<stem><suffix>, a JSON array of valid
// instances; a stem without such a file is skipped.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import type { ParseResult } from "../generated/index";

interface SampleSet {
  name: string;
  generated: string;
  samples: string;
  suffix: string;
}

const sets: SampleSet[] = process.env.JOBWATCH_SAMPLE_SETS
  ? JSON.parse(process.env.JOBWATCH_SAMPLE_SETS)
  : [{
    name: "schemas",
    generated: path.join(__dirname, "..", "generated", "index.js"),
    samples: path.join(__dirname, "..", "..", "..", "tests", "data", "samples"),
    suffix: ".json",
  }];

for (const set of sets) {
  const { roots, toJson } = require(set.generated) as {
    roots: Record<string, (text: string) => ParseResult<unknown>>;
    toJson: (value: unknown) => string;
  };
  for (const stem of Object.keys(roots).sort()) {
    test(`${set.name}: ${stem}${set.suffix} samples parse and round-trip`, (t) => {
      const file = path.join(set.samples, stem + set.suffix);
      if (!existsSync(file)) {
        t.skip(`no ${file}`);
        return;
      }
      const samples: unknown = JSON.parse(readFileSync(file, "utf8"));
      assert.ok(Array.isArray(samples) && samples.length > 0, `${file} must be a non-empty JSON array`);
      const parse = roots[stem];
      assert.ok(parse !== undefined);
      samples.forEach((sample: unknown, i: number) => {
        const text = JSON.stringify(sample);
        const r = parse(text);
        assert.ok(r.ok, `${stem}[${i}] rejected at "${r.ok ? "" : r.error.path}": ${r.ok ? "" : r.error.message}: ${text}`);
        assert.deepStrictEqual(r.value, sample, `${stem}[${i}] parsed value differs`);
        assert.deepStrictEqual(JSON.parse(toJson(r.value)), sample, `${stem}[${i}] does not round-trip`);
      });
    });
  }
}
