#!/usr/bin/env python3
"""Checks that every code block in docs/ marked as a snippet is the same text
as the region of the compiled source file it names.

In Markdown:   <!-- snippet: tests/package/consumer/main.cpp#consumer-main -->
followed by a fenced code block. In the source:  // [snippet:consumer-main]
... // [end:consumer-main]  (or # for CMake). Exit status 1 on any mismatch.
"""

import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
marker = re.compile(r"<!--\s*snippet:\s*(\S+)#(\S+)\s*-->\s*\n```[a-z]*\n(.*?)```", re.S)
failures = 0
checked = 0
for doc in sorted((root / "docs").glob("*.md")) + [root / "README.md"]:
    if not doc.exists():
        continue
    for m in marker.finditer(doc.read_text(encoding="utf-8")):
        path, name, block = m.group(1), m.group(2), m.group(3)
        src = (root / path).read_text(encoding="utf-8")
        region = re.search(r"^[ \t]*(?://|#) \[snippet:" + re.escape(name) + r"\]\n(.*?)^[ \t]*(?://|#) \[end:"
                           + re.escape(name) + r"\]", src, re.S | re.M)
        checked += 1
        if not region:
            print(f"{doc.name}: snippet {path}#{name} not found in the source")
            failures += 1
        elif region.group(1) != block:
            print(f"{doc.name}: snippet {path}#{name} differs from the source; copy it again")
            failures += 1
print(f"{checked - failures} passed, {failures} failed")
sys.exit(1 if failures or checked == 0 else 0)
