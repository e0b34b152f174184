"""Fuzzes the escaping functions of codegen/jobwatch_codegen/escape.py.

Seeded random texts (U+0000, control characters, line breaks, U+2028/9,
quotes, backslashes, `*/`, `??/`, trigraph-like and non-ASCII text) go
through each function into one C++ file and one TypeScript file:

  * the C++ compiles with g++ -Wall -Wextra -Werror (no comment swallows the
    next line, no literal breaks), and running it prints every string
    literal back byte for byte;
  * the TypeScript compiles with tsc --strict, and node prints every string
    literal and property name back exactly.

Skipped (with a message) where g++, node or ts/node_modules are missing.
"""

import json
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "codegen"))
from jobwatch_codegen import escape  # noqa: E402

PIECES = ["\0", "\n", "\r", "\r\n", "\t", "\v", "\f", "\x01", "\x1f", "\x7f", "\u2028", "\u2029", "\"", "'", "\\",
          "*/", "/*", "//", "??/", "??=", "?", "`", "${x}", "é", "😀", "\ufeff", " ", "a", "Z", "0", "_", "-", "$",
          "class", "int", "\\u0041", "%", "{", "}", "<", ">"]
TSC = ROOT / "ts" / "node_modules" / ".bin" / "tsc"


def fuzz_texts(n=300, seed="jobwatch-escape-v1"):
    rng = random.Random(seed)
    out = ["", "\\", "??/", "*/", "a\\", "\0", "\u2028"]
    while len(out) < n:
        out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8))))
    return out


class EscapeFuzzTest(unittest.TestCase):
    texts = fuzz_texts()

    @unittest.skipIf(shutil.which("g++") is None, "g++ is not installed")
    def test_cpp_contexts(self):
        lines = ["#include <cstdio>", "#include <string_view>", ""]
        taken: set[str] = set()
        members = []
        for i, t in enumerate(self.texts):
            lines.append(f"// {escape.cpp_comment(t)}")
            lines.append(f"constexpr int line_{i} = {i};  ///< {escape.cpp_comment(t)}")
            lines.append(f"constexpr std::string_view text_{i} = {escape.cpp_string_view(t)};")
            members.append(f"    int {escape.cpp_identifier(t, taken)} = {i};")
        lines.append("struct fuzz_members\n{\n" + "\n".join(members) + "\n};")
        total = sum(range(len(self.texts)))
        lines.append(f"static_assert({' + '.join(f'line_{i}' for i in range(len(self.texts)))} == {total});")
        lines.append("int main()\n{\n    fuzz_members m{};\n    (void)m;")
        for i in range(len(self.texts)):
            lines.append(f"    for (char c : text_{i}) std::printf(\"%02x\", static_cast<unsigned char>(c));")
            lines.append("    std::printf(\"\\n\");")
        lines.append("}")
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp) / "fuzz.cpp"
            src.write_text("\n".join(lines) + "\n", encoding="utf-8")
            exe = pathlib.Path(tmp) / "fuzz"
            r = subprocess.run(["g++", "-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O0", str(src),
                                "-o", str(exe)], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])
            out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60).stdout.splitlines()
        self.assertEqual(out, [t.encode("utf-8").hex() for t in self.texts])
        self.assertEqual(len(taken), len(self.texts), "identifiers are unique")

    @unittest.skipIf(shutil.which("node") is None or not TSC.exists(), "node or ts/node_modules (npm ci --prefix ts) missing")
    def test_typescript_contexts(self):
        lines = []
        props = []
        for i, t in enumerate(self.texts):
            lines.append(f"/** {escape.ts_comment(t)} */")
            lines.append(f"export const line{i}: number = {i};")
            lines.append(f"// {escape.ts_comment(t)}")
            lines.append(f"export const text{i}: string = {escape.ts_string_literal(t)};")
            props.append(f"  {escape.ts_property_name(t + str(i))}: {i},")
        lines.append("export const props: { [key: string]: number } = {\n" + "\n".join(props) + "\n};")
        n = len(self.texts)
        lines.append(f"export const lines: number[] = [{', '.join(f'line{i}' for i in range(n))}];")
        lines.append(f"export const texts: string[] = [{', '.join(f'text{i}' for i in range(n))}];")
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp) / "fuzz.ts"
            src.write_text("\n".join(lines) + "\n", encoding="utf-8")
            r = subprocess.run([str(TSC), "--strict", "--target", "ES2022", "--module", "commonjs", "--types", "",
                                "--outDir", tmp, str(src)], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
            script = ("const m = require(process.argv[1]); process.stdout.write(JSON.stringify("
                      "{lines: m.lines, texts: m.texts, keys: Object.keys(m.props)}));")
            r = subprocess.run(["node", "-e", script, str(pathlib.Path(tmp) / "fuzz.js")], capture_output=True,
                               text=True, encoding="utf-8", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got["lines"], list(range(n)))
        self.assertEqual(got["texts"], self.texts)
        self.assertEqual(sorted(got["keys"]), sorted(t + str(i) for i, t in enumerate(self.texts)))

    def test_comments_are_one_line(self):
        for t in self.texts:
            for fn in (escape.cpp_comment, escape.ts_comment):
                out = fn(t)
                self.assertFalse(any(c in out for c in "\n\r\u2028\u2029\v\f\0"), (fn.__name__, t, out))
            self.assertNotIn("*/", escape.ts_comment(t))
            self.assertFalse(escape.cpp_comment(t).endswith("\\"), t)


if __name__ == "__main__":
    unittest.main()
