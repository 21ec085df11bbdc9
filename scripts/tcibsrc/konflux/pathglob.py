"""Pipelines-as-Code's `pathChanged()` globs: gobwas/glob compiled without separators.

So `*` (and `**`) match any run of characters including `/`; `?` one character; `[...]`
classes; `{a,b}` alternatives. The whole path must match: a bare directory name matches only a
changed file of exactly that path (a submodule's gitlink), never the files under it.
"""

from __future__ import annotations

import re
from functools import cache


@cache
def compile_glob(glob: str) -> re.Pattern[str]:
    out = []
    index = 0
    depth = 0
    while index < len(glob):
        char = glob[index]
        if char == "*":
            while index + 1 < len(glob) and glob[index + 1] == "*":
                index += 1
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = glob.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = glob[index + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        elif char == "\\" and index + 1 < len(glob):
            index += 1
            out.append(re.escape(glob[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def path_changed(glob: str, changed: list[str]) -> bool:
    pattern = compile_glob(glob)
    return any(pattern.match(path) for path in changed)
