// Runtime checks of the generated validators (node:test): broken documents
// are rejected at the right JSON Pointer, edge values are accepted, and the
// text checks and decide.mjs behave like the C++ parser. run-tests.sh
// compiles this with tsc and runs it; samples.test.ts does the round trips.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";

import {
  ParseResult,
  isRfc3339DateTime,
  numberText,
  parseClientMessage,
  parseConfig,
  parseJobEvent,
  parseServerMessage,
  validateJobEvent,
} from "../generated/index";

function show<T>(r: ParseResult<T>): string {
  return r.ok ? "accepted" : `rejected at "${r.error.path}": ${r.error.message}`;
}

// ---------------------------------------------------------------------------
// Rejections: where and why.

const progress = { type: "job.progress", job_id: "j1", queue: "q", percent: 50 };
const queued = { type: "job.queued", job_id: "j1", queue: "q" };
const failed = { type: "job.failed", job_id: "j1", queue: "q", error: "boom", attempt: 1, will_retry: false };

type Case = [name: string, parse: (text: string) => ParseResult<unknown>, doc: unknown, path: string, message: string];

const rejections: Case[] = [
  ["missing discriminator", parseJobEvent, { job_id: "j1", queue: "q" }, "", 'missing required property "type"'],
  // An unknown type may be a user-defined one (docs/events.md): its common fields are still checked.
  ["unknown discriminator, no job_id", parseJobEvent, { type: "job.exploded", queue: "q" }, "", 'missing required property "job_id"'],
  ["discriminator not a string", parseJobEvent, { ...queued, type: 7 }, "/type", "expected string, got integer"],
  ["not an object", parseJobEvent, [queued], "", "expected object, got array"],
  ["missing required property", parseJobEvent, { type: "job.progress", job_id: "j1", queue: "q" }, "", 'missing required property "percent"'],
  ["unknown property", parseJobEvent, { ...progress, bogus: 1 }, "/bogus", "unknown property"],
  ["maximum", parseJobEvent, { ...progress, percent: 100.5 }, "/percent", "must be <= 100"],
  ["integer with a fraction", parseJobEvent, { ...progress, current: 1.5 }, "/current", "expected integer, got number with a fraction"],
  ["map value, pointer escaped", parseJobEvent, { ...progress, counters: { ok: 1, "a/b~c": -1 } }, "/counters/a~1b~0c", "must be >= 0"],
  ["map of the wrong type", parseJobEvent, { ...progress, counters: [1] }, "/counters", "expected object, got array"],
  ["boolean", parseJobEvent, { ...failed, will_retry: "yes" }, "/will_retry", "expected boolean, got string"],
  ["enum", parseJobEvent, { type: "job.log", job_id: "j1", queue: "q", level: "fatal", message: "m" }, "/level", 'must be one of "debug", "info", "warn", "error"'],
  ["pattern", parseJobEvent, { ...queued, job_id: "job 1" }, "/job_id", "must match pattern ^[A-Za-z0-9._:@-]+$(?!\\n)"],
  ["pattern: no trailing newline", parseJobEvent, { ...queued, queue: "q\n" }, "/queue", "must match pattern"],
  ["minLength", parseJobEvent, { ...queued, job_id: "" }, "/job_id", "must be at least 1 characters"],
  ["maxLength", parseJobEvent, { ...queued, job_id: "a".repeat(201) }, "/job_id", "must be at most 200 characters"],
  ["date-time: no such day", parseJobEvent, { ...queued, time: "2023-02-29T00:00:00Z" }, "/time", "must be an RFC 3339 date-time"],
  ["date-time: no offset", parseJobEvent, { ...queued, time: "2024-05-01T12:00:00" }, "/time", "must be an RFC 3339 date-time"],
  ["integer bounds", parseJobEvent, { ...queued, priority: 1001 }, "/priority", "must be <= 1000"],
  ["room pattern", parseClientMessage, { type: "subscribe", room: "job:" }, "/room", "must match pattern"],
  ["room with a trailing newline", parseClientMessage, { type: "subscribe", room: "alerts\n" }, "/room", "must match pattern"],
  ["nested union member", parseClientMessage, { type: "publish", event: { type: "job.queued", queue: "q" } }, "/event", 'missing required property "job_id"'],
  ["request id length", parseClientMessage, { type: "ping", id: "x".repeat(65) }, "/id", "must be at most 64 characters"],
  ["request id in code points", parseClientMessage, { type: "ping", id: "\u{1F600}".repeat(65) }, "/id", "must be at most 64 characters"],
  ["array item", parseServerMessage, { type: "subscriptions", rooms: [{ room: "alerts", seq: 1 }, { room: "alerts", seq: -1 }] }, "/rooms/1/seq", "must be >= 0"],
  ["snapshot kind", parseServerMessage, { type: "subscribed", room: "job:1", seq: 1, snapshot: { kind: "nope" } }, "/snapshot/kind", 'must be one of "job_snapshot", "summary", "health_report"'],
  ["snapshot without kind", parseServerMessage, { type: "subscribed", room: "job:1", seq: 1, snapshot: {} }, "/snapshot", 'missing required property "kind"'],
  ["union member's const", parseServerMessage, { type: "pong", id: "" }, "/id", "must be at least 1 characters"],
  ["nested config", parseConfig, { store: { max_finished_jobs: 0 } }, "/store/max_finished_jobs", "must be >= 1"],
  ["bound written as to_chars does", parseConfig, { store: { max_finished_jobs: 1e10 } }, "/store/max_finished_jobs", "must be <= 1e+09"],
  ["map of structs", parseConfig, { dlq: { queues: { emails: { threshold: 0 } } } }, "/dlq/queues/emails/threshold", "must be >= 1"],
];

for (const [name, parse, doc, expectedPath, message] of rejections) {
  test(`rejects: ${name}`, () => {
    const r = parse(JSON.stringify(doc));
    assert.ok(!r.ok, `${name}: accepted ${JSON.stringify(doc)}`);
    assert.equal(r.error.path, expectedPath, `${name}: ${show(r)}`);
    assert.ok(r.error.message.startsWith(message), `${name}: ${show(r)}; expected "${message}"`);
  });
}

test("accepts edge values", () => {
  const ok: [string, (text: string) => ParseResult<unknown>, string][] = [
    ["integer written 1.0", parseJobEvent, '{"type":"job.queued","job_id":"j","queue":"q","priority":1.0}'],
    ["integer written 1e2", parseJobEvent, '{"type":"job.queued","job_id":"j","queue":"q","priority":1e2}'],
    ["-0 against minimum 0", parseJobEvent, '{"type":"job.progress","job_id":"j","queue":"q","percent":-0}'],
    ["leap day", parseJobEvent, '{"type":"job.queued","job_id":"j","queue":"q","time":"2024-02-29T00:00:00Z"}'],
    ["leap second, lower case t and z", parseJobEvent, '{"type":"job.queued","job_id":"j","queue":"q","time":"2016-12-31t23:59:60z"}'],
    ["64 code points in 128 UTF-16 units", parseClientMessage, JSON.stringify({ type: "ping", id: "\u{1F600}".repeat(64) })],
    ["duplicate key: the last wins", parseJobEvent, '{"type":"job.exploded","type":"job.queued","job_id":"j","queue":"q"}'],
    ["any payload", parseJobEvent, '{"type":"job.queued","job_id":"j","queue":"q","payload":{"a":[null,true,1.5e300,"\\u00e9"]}}'],
  ];
  for (const [name, parse, text] of ok)
    assert.ok(parse(text).ok, `${name}: ${show(parse(text))}`);
});

test("validate checks values that are already parsed", () => {
  assert.ok(validateJobEvent(progress).ok);
  const r = validateJobEvent({ ...progress, percent: Number.NaN });
  assert.ok(!r.ok && r.error.path === "/percent" && r.error.message === "number out of range", show(r));
});

// ---------------------------------------------------------------------------
// JSON text: what the C++ parser (Boost.JSON 1.81, max_depth 64) rejects.

function withPayload(payload: string): string {
  return `{"type":"job.queued","job_id":"j","queue":"q","payload":${payload}}`;
}

test("invalid JSON is rejected at the root", () => {
  for (const text of ["", "{", '{"type":"job.queued",}', "\ufeff" + JSON.stringify(queued), "NaN", JSON.stringify(queued) + " x"]) {
    const r = parseJobEvent(text);
    assert.ok(!r.ok && r.error.path === "" && r.error.message.startsWith("invalid JSON: "), `${JSON.stringify(text)}: ${show(r)}`);
  }
});

test("nesting deeper than 64 is rejected", () => {
  // The event object is level 1, so 63 arrays inside it make 64.
  assert.ok(parseJobEvent(withPayload("[".repeat(63) + "]".repeat(63))).ok);
  const r = parseJobEvent(withPayload("[".repeat(64) + "]".repeat(64)));
  assert.ok(!r.ok && r.error.message === "invalid JSON: too deep", show(r));
  // Brackets inside strings do not count.
  assert.ok(parseJobEvent(withPayload(JSON.stringify("[".repeat(100)))).ok);
});

test("escaped surrogates must pair", () => {
  assert.ok(parseJobEvent(withPayload('"\\ud83d\\ude00"')).ok);
  assert.ok(parseJobEvent(withPayload('"\\\\ud800"')).ok, "an escaped backslash is not an escape");
  for (const [s, why] of [['"\\ud800"', "syntax error"], ['"\\ude00"', "illegal leading surrogate"],
    ['"\\ud800\\u0041"', "illegal trailing surrogate"], ['{"\\udc00":1}', "illegal leading surrogate"]]) {
    const r = parseJobEvent(withPayload(s));
    assert.ok(!r.ok && r.error.message === "invalid JSON: " + why, `${s}: ${show(r)}`);
  }
  const lone = parseJobEvent(withPayload('"\ud800"'));
  assert.ok(!lone.ok && lone.error.message === "invalid JSON: text is not valid Unicode", show(lone));
});

test("exponents that overflow Boost's int are rejected", () => {
  assert.ok(parseJobEvent(withPayload("0e2147483647")).ok);
  assert.ok(parseJobEvent(withPayload("1e-2147483647")).ok);
  assert.ok(parseJobEvent(withPayload("1.5e-2147483647")).ok);
  assert.ok(parseJobEvent(withPayload("1e0000000000002")).ok);
  for (const n of ["1e2147483648", "1e99999999999", "1.55e-2147483647", "123456789012345678901e2147483647"]) {
    const r = parseJobEvent(withPayload(n));
    assert.ok(!r.ok && r.error.message === "invalid JSON: exponent overflow", `${n}: ${show(r)}`);
  }
});

test("numbers outside double's range are rejected anywhere", () => {
  // JSON.parse reads them as Infinity; jobwatch::parse documents them as a
  // representation limit, even where the schema allows any value.
  for (const n of ["1e400", "-1e400", "[1,-1e400]", "1" + "0".repeat(309), "1" + "0".repeat(400) + ".5"]) {
    const r = parseJobEvent(withPayload(n));
    assert.ok(!r.ok && r.error.path === "" && r.error.message === "number out of range", `${n}: ${show(r)}`);
  }
  const typed = parseJobEvent('{"type":"job.progress","job_id":"j","queue":"q","percent":1e400}');
  assert.ok(!typed.ok && typed.error.message === "number out of range", show(typed));
  // Underflow is not an error: the value is 0, as in C++.
  for (const n of ["1e-400", "-1e-400", "1" + "0".repeat(308), "0." + "0".repeat(400) + "1"])
    assert.ok(parseJobEvent(withPayload(n)).ok, n);
});

test("isRfc3339DateTime", () => {
  const good = ["2024-05-01T12:30:00Z", "2024-05-01T12:30:00.250Z", "2024-05-01T14:30:00+02:00", "2024-05-01t12:30:00z",
    "2000-02-29T00:00:00Z", "1999-12-31T23:59:60-00:00", "2024-05-01T12:30:00.123456789+23:59"];
  const bad = ["2024-05-01", "2024-05-01T12:30:00", "2024-05-01 12:30:00Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z",
    "2024-04-31T00:00:00Z", "1900-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:30:61Z",
    "2024-05-01T12:30:00.Z", "2024-05-01T12:30:00+2:00", "2024-05-01T12:30:00+24:00", "2024-05-01T12:30:00+02:60",
    "2024-05-01T12:30:00+0200", "2024-05-01T12:30:00ZZ", "24-05-01T12:30:00Z", "2024-05-01T12:30:00\uff10Z", "２０２４-05-01T12:30:00Z"];
  for (const s of good)
    assert.ok(isRfc3339DateTime(s), s);
  for (const s of bad)
    assert.ok(!isRfc3339DateTime(s), s);
});

test("numberText spells bounds as std::to_chars", () => {
  const cases: [number, string][] = [[0, "0"], [-0, "-0"], [1, "1"], [-1000, "-1000"], [0.8, "0.8"], [1000, "1000"],
    [100000, "1e+05"], [1000000, "1e+06"], [3600000, "3600000"], [86400000, "86400000"], [1e-7, "1e-07"],
    [9007199254740991, "9007199254740991"], [1e21, "1e+21"], [123.456, "123.456"], [1.5e300, "1.5e+300"]];
  for (const [x, text] of cases)
    assert.equal(numberText(x), text, String(x));
});

// ---------------------------------------------------------------------------
// decide.mjs, the oracle for differential tests.

test("decide.mjs answers one line per request", () => {
  const hex = (s: string | Buffer) => Buffer.from(s).toString("hex");
  const requests: [string, string, string][] = [
    ["job_event", hex(JSON.stringify(queued)), "1"],
    ["job_event", hex(JSON.stringify({ ...queued, bogus: 1 })), "0"],
    ["client_message", hex('{"type":"ping"}'), "1"],
    ["job_event", "ff" + hex(JSON.stringify(queued)).slice(2), "0"],  // invalid UTF-8
    ["job_event", hex(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(queued))])), "0"],  // BOM
    ["job_event", hex(withPayload('"\u00e9\u{1F600}"')), "1"],
    ["job_event", hex(withPayload('"\\ud800"')), "0"],
    ["job_event", "", "0"],
  ];
  const input = requests.map(([schema, docHex]) => JSON.stringify({ schema, doc_hex: docHex })).join("\n") + "\n";
  const run = spawnSync(process.execPath, [path.join(__dirname, "decide.mjs")], { input, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(run.stdout.split("\n").filter((l) => l !== ""), requests.map((r) => r[2]));

  const bad = spawnSync(process.execPath, [path.join(__dirname, "decide.mjs")],
    { input: '{"schema":"no_such","doc_hex":""}\n', encoding: "utf8" });
  assert.equal(bad.status, 2, "an unknown stem is a harness error");
});
