// The runtime of the TypeScript that jobwatch-codegen generates, copied as it is
// beside the generated modules. Edit ts/codec.ts in jobwatch, never a copy.

/**
 * The runtime half of the generated TypeScript, shared by every module: the
 * validating readers that `parseX`/`validateX` build on, and the JSON text
 * checks. It mirrors `jobwatch::parse<T>` (include/jobwatch/codec.hpp and
 * include/jobwatch/detail/codec_read.hpp) decision for decision, so a
 * document that one side accepts the other accepts too, and a rejection
 * names the same JSON Pointer and, as far as JavaScript can tell, the same
 * reason.
 *
 * Known differences, none of which changes a decision: an object's keys are
 * visited in JavaScript property order (integer-like keys such as "0" come
 * first), so when a document has several faults the one reported can
 * differ; and an integer written as `1.0` is called "integer" in type error
 * messages, where C++ says "number".
 */

/** Why a document was rejected. */
export interface ParseError {
  /** JSON Pointer (RFC 6901) of the offending value; "" is the whole document. */
  path: string;
  /** What was wrong, in words. */
  message: string;
}

/** The outcome of `parseX`/`validateX`: the value, or why it was rejected. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ParseError };

/** Deepest nesting of arrays and objects accepted, as `jobwatch::parse_options::max_depth`. */
export const MAX_DEPTH = 64;

/**
 * State of one validating read: the reason, and the path, which is built
 * only on failure as each level appends its key or index on the way out.
 */
export class ReadContext {
  private reason = "";
  private readonly segments: string[] = [];

  /** Records the reason; the path is filled in as the failure unwinds. */
  fail(message: string): false {
    this.reason = message;
    return false;
  }

  /** Called by a parent whose member or element `key` failed. */
  at(key: string | number): false {
    this.segments.push(String(key));
    return false;
  }

  /** Fails at member `key` with `message` (for a key that is itself wrong). */
  failAt(key: string, message: string): false {
    this.fail(message);
    return this.at(key);
  }

  get message(): string {
    return this.reason;
  }

  /** The JSON Pointer (RFC 6901) of the offending value. */
  pointer(): string {
    let out = "";
    for (const segment of this.segments.slice().reverse())
      out += "/" + segment.replace(/~/g, "~0").replace(/\//g, "~1");
    return out;
  }
}

/** A generated validating reader: true when `v` satisfies the schema of `T`. */
export type Reader<T> = (ctx: ReadContext, v: unknown) => v is T;

/** Reads a nested value; the generated code passes these for array items and map values. */
export type ItemReader = (ctx: ReadContext, v: unknown) => boolean;

/** Validates text: JSON first, then the schema. */
export function parse<T>(text: string, read: Reader<T>): ParseResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: { path: "", message: "invalid JSON: " + (e instanceof Error ? e.message : String(e)) } };
  }
  const problem = textProblem(text);
  if (problem !== undefined)
    return { ok: false, error: { path: "", message: problem } };
  return validate(value, read);
}

/** Validates a value that is already parsed. */
export function validate<T>(value: unknown, read: Reader<T>): ParseResult<T> {
  const ctx = new ReadContext();
  if (read(ctx, value))
    return { ok: true, value };
  return { ok: false, error: { path: ctx.pointer(), message: ctx.message } };
}

/** The JSON text of a value. */
export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------
// Text checks: what jobwatch's JSON parser (Boost.JSON 1.81) rejects and
// JSON.parse does not.

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

/**
 * Why valid JSON text would still be rejected by the C++ parser, or
 * undefined: nesting deeper than MAX_DEPTH, an escaped surrogate that is not
 * half of a pair (Boost.JSON 1.81 has no allow_invalid_utf16), a lone
 * surrogate in the text itself (no UTF-8 spelling), an exponent that
 * overflows Boost's int arithmetic, or a number outside double's range
 * anywhere in the document, even where the schema allows any value (the
 * representation limits documented for jobwatch::parse; JSON.parse reads
 * such numbers as Infinity).
 * Precondition: JSON.parse accepted `text`.
 */
function textProblem(text: string): string | undefined {
  const n = text.length;
  let depth = 0;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      ++i;
      for (;;) {
        const ch = text.charCodeAt(i);
        if (ch === 0x22) {
          ++i;
          break;
        }
        if (ch === 0x5c) {
          if (text.charCodeAt(i + 1) !== 0x75) {
            i += 2;
            continue;
          }
          const u1 = parseInt(text.slice(i + 2, i + 6), 16);
          i += 6;
          if (u1 >= 0xdc00 && u1 <= 0xdfff)
            return "invalid JSON: illegal leading surrogate";
          if (u1 >= 0xd800 && u1 <= 0xdbff) {
            if (text.charCodeAt(i) !== 0x5c || text.charCodeAt(i + 1) !== 0x75)
              return "invalid JSON: syntax error";
            const u2 = parseInt(text.slice(i + 2, i + 6), 16);
            if (u2 < 0xdc00 || u2 > 0xdfff)
              return "invalid JSON: illegal trailing surrogate";
            i += 6;
          }
          continue;
        }
        if (ch >= 0xd800 && ch <= 0xdfff) {
          const next = text.charCodeAt(i + 1);
          if (ch <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            i += 2;
            continue;
          }
          return "invalid JSON: text is not valid Unicode";
        }
        ++i;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH)
        return "invalid JSON: too deep";
      ++i;
    } else if (c === 0x5d || c === 0x7d) {
      --depth;
      ++i;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < n && isNumberChar(text.charCodeAt(end)))
        ++end;
      const problem = numberProblem(text, i, end);
      if (problem !== undefined)
        return problem;
      i = end;
    } else {
      ++i;
    }
  }
  return undefined;
}

function isNumberChar(c: number): boolean {
  // digits . + - e E
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45;
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?)(\d+))?$/;
const MAX_SAFE = 9007199254740991n;

/**
 * Checks the number text[start, end): its value must be within double's
 * range, and it must pass Boost.JSON's exponent overflow check: the exponent
 * must fit an int, and so must the exponent plus the decimal shift ("bias")
 * of the significand, which depends on how many significand digits Boost
 * keeps, which in turn depends on whether its fast path ran (at least 33
 * bytes left in the input). Only exponents near INT_MAX get that far.
 */
function numberProblem(text: string, start: number, end: number): string | undefined {
  const token = text.slice(start, end);
  const m = NUMBER.exec(token);
  if (m === null)
    return undefined;
  const [, sign = "", intPart = "", frac, expSign = "", expText] = m;
  if (expText === undefined)
    return intPart.length > 309 && !Number.isFinite(Number(token)) ? "number out of range" : undefined;
  const expDigits = expText.replace(/^0+(?=\d)/, "");
  if (expDigits.length > 10 || (expDigits.length === 10 && expDigits > "2147483647"))
    return "invalid JSON: exponent overflow";
  const exp = Number(expDigits);
  const negative = sign === "-";
  if (exp < INT_MAX - (end - start))  // |bias| <= digit count: cannot overflow
    return Number.isFinite(Number(token)) ? undefined : "number out of range";
  // Integer digits that fit the significand (uint64, or int64 when negative).
  const limit = negative ? "9223372036854775808" : "18446744073709551615";
  const kept = intPart.length < limit.length ? intPart.length
    : intPart.slice(0, limit.length) <= limit ? limit.length : limit.length - 1;
  let bias = intPart.length - kept;
  if (bias === 0 && frac !== undefined) {
    let mant = BigInt(intPart);
    let next = 0;
    const fast = utf8Bytes(text, start) - (negative ? 1 : 0) >= 33 && (intPart === "0" || intPart.length < 16);
    if (fast) {
      const n1 = intPart === "0" ? 0 : intPart.length;
      const n2 = Math.min(frac.length, 16);
      if (n1 + n2 < 19) {
        mant = mant * 10n ** BigInt(n2) + BigInt(frac.slice(0, n2));
        bias -= n2;
        next = n2;
      }
    }
    for (; next < frac.length && mant <= MAX_SAFE; ++next) {
      mant = mant * 10n + BigInt(frac.charCodeAt(next) - 0x30);
      --bias;
    }
  }
  if (expSign === "-" ? bias < INT_MIN + exp : bias > INT_MAX - exp)
    return "invalid JSON: exponent overflow";
  return Number.isFinite(Number(token)) ? undefined : "number out of range";
}

/** UTF-8 length of text[start...]. */
function utf8Bytes(text: string, start: number): number {
  let bytes = 0;
  for (let i = start; i < text.length; ++i) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      ++i;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

// ---------------------------------------------------------------------------
// Readers, one per kind of schema, as in codec_read.hpp.

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is { [key: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when object `o` has its own member `key`. */
export function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/** Names a JSON kind for error messages. */
export function kindName(v: unknown): string {
  if (v === null)
    return "null";
  switch (typeof v) {
  case "boolean": return "boolean";
  case "number": return Number.isInteger(v) ? "integer" : "number";
  case "string": return "string";
  case "object": return Array.isArray(v) ? "array" : "object";
  default: return "value";
  }
}

export function typeError(ctx: ReadContext, v: unknown, expected: string): false {
  return ctx.fail("expected " + expected + ", got " + kindName(v));
}

/**
 * A bound as C++ `std::to_chars` writes it: the shortest digits, in plain or
 * exponent notation, whichever is shorter (plain on a tie).
 */
export function numberText(d: number): string {
  if (!Number.isFinite(d))
    return String(d);
  if (d === 0)
    return Object.is(d, -0) ? "-0" : "0";
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-])(\d+)$/.exec(d.toExponential());
  if (m === null)
    return String(d);
  const [, sign = "", lead = "", rest = "", expSign = "", expDigits = ""] = m;
  const digits = lead + rest;
  const exp = (expSign === "-" ? -1 : 1) * Number(expDigits);
  const scientific = sign + lead + (rest ? "." + rest : "") + "e" + expSign + expDigits.padStart(2, "0");
  let plain: string;
  if (exp >= digits.length - 1)
    plain = digits + "0".repeat(exp - digits.length + 1);
  else if (exp >= 0)
    plain = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  else
    plain = "0." + "0".repeat(-exp - 1) + digits;
  plain = sign + plain;
  return scientific.length < plain.length ? scientific : plain;
}

/** Constraints on a number or integer. */
export interface NumberRules {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  /** `multipleOf` was written as an integer (`2`, not `2.0`): a remainder decides, not a quotient. */
  multipleOfInteger?: boolean;
}

function checkBounds(ctx: ReadContext, x: number, r: NumberRules): boolean {
  if (r.minimum !== undefined && x < r.minimum)
    return ctx.fail("must be >= " + numberText(r.minimum));
  if (r.maximum !== undefined && x > r.maximum)
    return ctx.fail("must be <= " + numberText(r.maximum));
  if (r.exclusiveMinimum !== undefined && x <= r.exclusiveMinimum)
    return ctx.fail("must be > " + numberText(r.exclusiveMinimum));
  if (r.exclusiveMaximum !== undefined && x >= r.exclusiveMaximum)
    return ctx.fail("must be < " + numberText(r.exclusiveMaximum));
  if (r.multipleOf !== undefined && !isMultiple(x, r.multipleOf, r.multipleOfInteger === true))
    return ctx.fail("must be a multiple of " + numberText(r.multipleOf));
  return true;
}

/** `multipleOf` as python3-jsonschema (the reference of the tests) and the C++ side decide it. */
function isMultiple(x: number, m: number, integerDivisor: boolean): boolean {
  if (integerDivisor)
    return x % m === 0;
  const q = x / m;
  return Number.isFinite(q) && q === Math.trunc(q);
}

/**
 * A JSON Schema `integer`: any number with no fractional part (`1.0` is
 * one). Values outside int64 are rejected, as the C++ member cannot hold them.
 */
export function readInteger(ctx: ReadContext, v: unknown, r: NumberRules): v is number {
  if (typeof v !== "number")
    return typeError(ctx, v, "integer");
  if (!Number.isFinite(v))
    return ctx.fail("number out of range");
  if (!Number.isInteger(v))
    return ctx.fail("expected integer, got number with a fraction");
  // 2^63 is exact as a double; anything at or past it does not fit int64.
  if (v < -9223372036854775808 || v >= 9223372036854775808)
    return ctx.fail("integer out of range");
  return checkBounds(ctx, v, r);
}

/** A JSON Schema `number` (integers are numbers too). */
export function readNumber(ctx: ReadContext, v: unknown, r: NumberRules): v is number {
  if (typeof v !== "number")
    return typeError(ctx, v, "number");
  if (!Number.isFinite(v))
    return ctx.fail("number out of range");
  return checkBounds(ctx, v, r);
}

export function readBoolean(ctx: ReadContext, v: unknown): v is boolean {
  if (typeof v !== "boolean")
    return typeError(ctx, v, "boolean");
  return true;
}

/** An ECMA-262 `pattern`, compiled once, with its source for messages. */
export interface Pattern {
  readonly re: RegExp;
  readonly text: string;
}

/** Compiles a schema pattern to match code points ("u"), unanchored, as JSON Schema says. */
export function pattern(text: string): Pattern {
  return { re: new RegExp(text, "u"), text };
}

/** Constraints on a string; lengths count code points. */
export interface StringRules {
  minLength?: number;
  maxLength?: number;
  dateTime?: boolean;
  pattern?: Pattern;
}

/** Number of Unicode code points in `s` (a lone surrogate counts as one, as `[...s].length`). */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; ++i) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        --n;
        ++i;
      }
    }
  }
  return n;
}

export function readString(ctx: ReadContext, v: unknown, r: StringRules): v is string {
  if (typeof v !== "string")
    return typeError(ctx, v, "string");
  const min = r.minLength ?? 0;
  // Code points never exceed UTF-16 units, nor fall below half of them, so
  // the unit count settles the common case.
  if ((min > 0 && v.length < 2 * min) || (r.maxLength !== undefined && v.length > r.maxLength)) {
    const n = codePointLength(v);
    if (n < min)
      return ctx.fail("must be at least " + min + " characters");
    if (r.maxLength !== undefined && n > r.maxLength)
      return ctx.fail("must be at most " + r.maxLength + " characters");
  }
  if (r.dateTime && !isRfc3339DateTime(v))
    return ctx.fail("must be an RFC 3339 date-time");
  if (r.pattern !== undefined && !r.pattern.re.test(v))
    return ctx.fail("must match pattern " + r.pattern.text);
  return true;
}

/**
 * True when `s` is an RFC 3339 `date-time` (section 5.6), as JSON Schema's
 * `format: date-time` requires: `T`/`t` and `Z`/`z`, any number of fraction
 * digits, leap second `:60`, offsets `+hh:mm`/`-hh:mm`, and days checked
 * against the month and leap years. Same rules as rfc3339.hpp.
 */
export function isRfc3339DateTime(s: string): boolean {
  const digits = (pos: number, n: number): number => {
    if (pos + n > s.length)
      return -1;
    let out = 0;
    for (let i = pos; i < pos + n; ++i) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39)
        return -1;
      out = out * 10 + (c - 0x30);
    }
    return out;
  };
  const year = digits(0, 4);
  if (year < 0 || s.length < 20 || s[4] !== "-" || s[7] !== "-" || (s[10] !== "T" && s[10] !== "t") ||
      s[13] !== ":" || s[16] !== ":")
    return false;
  const month = digits(5, 2);
  const day = digits(8, 2);
  const hour = digits(11, 2);
  const minute = digits(14, 2);
  const second = digits(17, 2);
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60)
    return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > maxDay)
    return false;
  let i = 19;
  if (i < s.length && s[i] === ".") {
    ++i;
    const first = i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39)
      ++i;
    if (i === first)
      return false;
  }
  if (i >= s.length)
    return false;
  if (s[i] === "Z" || s[i] === "z")
    return i + 1 === s.length;
  if (s[i] !== "+" && s[i] !== "-")
    return false;
  if (i + 6 !== s.length || s[i + 3] !== ":")
    return false;
  const oh = digits(i + 1, 2);
  const om = digits(i + 4, 2);
  return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

/** A required `const` string, such as a union's `type` tag. */
export function readConst<S extends string>(ctx: ReadContext, v: unknown, expected: S): v is S {
  if (v !== expected)
    return ctx.fail("must be " + JSON.stringify(expected));
  return true;
}

/** A string enum, with the message to give when `v` is not one of `values`. */
export function readEnum<E extends string>(ctx: ReadContext, v: unknown, values: readonly E[], message: string): v is E {
  if (typeof v !== "string")
    return typeError(ctx, v, "string");
  if (!(values as readonly string[]).includes(v))
    return ctx.fail(message);
  return true;
}

/**
 * Equality as JSON Schema's `const` and `enum` mean it: numbers by value, a
 * boolean never equals a number, objects as sets of members.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b)
    return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length)
      return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length)
      return false;
    return keys.every((k) => has(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** A `const` or `enum` of any JSON values: `v` must equal one of `values`. */
export function readValues(ctx: ReadContext, v: unknown, values: readonly unknown[], message: string): boolean {
  if (!values.some((x) => jsonEqual(v, x)))
    return ctx.fail(message);
  // A number must also be one a double and, if integral, an int64 holds, as in C++.
  if (typeof v === "number" && !Number.isFinite(v))
    return ctx.fail("number out of range");
  return true;
}

/** `type: "null"`. */
export function readNull(ctx: ReadContext, v: unknown): v is null {
  if (v !== null)
    return typeError(ctx, v, "null");
  return true;
}

/** The JSON type of a value as a `type` list names it ("number" for every number). */
export function jsonKind(v: unknown): string {
  if (v === null)
    return "null";
  switch (typeof v) {
  case "boolean": return "boolean";
  case "number": return "number";
  case "string": return "string";
  default: return Array.isArray(v) ? "array" : "object";
  }
}

/**
 * `type: [A, B, ...]`: the JSON type of `v` picks the alternative
 * ("integer" alternatives are listed as "number": no two take the same kind).
 */
export function readUnion(ctx: ReadContext, v: unknown, expected: string, alternatives: readonly [string, ItemReader][]): boolean {
  const kind = jsonKind(v);
  for (const [type, read] of alternatives) {
    if (type === kind || (type === "integer" && kind === "number"))
      return read(ctx, v);
  }
  return typeError(ctx, v, expected);
}

/** `true` or `{}` in a schema: any JSON value, kept as it is. */
export function readAny(_ctx: ReadContext, _v: unknown): boolean {
  return true;
}

/** `type: object` with no `properties`: any object, kept as it is. */
export function readAnyObject(ctx: ReadContext, v: unknown): v is { [key: string]: unknown } {
  if (!isObject(v))
    return typeError(ctx, v, "object");
  return true;
}

/** Constraints on an array. */
export interface ArrayRules {
  minItems?: number;
  maxItems?: number;
}

export function readArray(ctx: ReadContext, v: unknown, r: ArrayRules, item: ItemReader): boolean {
  if (!Array.isArray(v))
    return typeError(ctx, v, "array");
  if (r.minItems !== undefined && v.length < r.minItems)
    return ctx.fail("must have at least " + r.minItems + " items");
  if (r.maxItems !== undefined && v.length > r.maxItems)
    return ctx.fail("must have at most " + r.maxItems + " items");
  for (let i = 0; i < v.length; ++i) {
    if (!item(ctx, v[i]))
      return ctx.at(i);
  }
  return true;
}

/** An object with no `properties` and a schema for `additionalProperties`. */
export function readMap(ctx: ReadContext, v: unknown, item: ItemReader): boolean {
  if (!isObject(v))
    return typeError(ctx, v, "object");
  for (const key of Object.keys(v)) {
    if (!item(ctx, v[key]))
      return ctx.at(key);
  }
  return true;
}

/** `[T, "null"]`. */
export function readNullable(ctx: ReadContext, v: unknown, item: ItemReader): boolean {
  return v === null || item(ctx, v);
}

/** A union's discriminator; fails at the object when absent, at the tag when not a string. */
export function discriminator(ctx: ReadContext, v: unknown, key: string): string | undefined {
  if (!isObject(v)) {
    typeError(ctx, v, "object");
    return undefined;
  }
  if (!has(v, key)) {
    ctx.fail("missing required property \"" + key + "\"");
    return undefined;
  }
  const tag = v[key];
  if (typeof tag !== "string") {
    typeError(ctx, tag, "string");
    ctx.at(key);
    return undefined;
  }
  return tag;
}
