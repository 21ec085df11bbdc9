"""What an RPM spec file says its binary packages require and install.

RDO's `openstack-*`/`python3-*` packages brought more than their PyPI metadata: explicit
`Requires` (dnsmasq with openstack-neutron, python3-keystone+memcache), and files (config under
/etc, sudoers and rootwrap pieces, `*-dist.conf`). This reads those facts from the spec file
itself, with enough of rpm's macro language for RDO's specs: %global/%define, %{name},
%{?macro}, %{!?macro:...}, the standard path macros, %if/%else/%endif and %ifarch.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import StrictBool

from tcibsrc.common.models import StrictModel

# The path macros of rpm (macros of CentOS Stream 10) and the target's Python.
STANDARD_MACROS = {
    "_prefix": "/usr",
    "_exec_prefix": "/usr",
    "_bindir": "/usr/bin",
    "_sbindir": "/usr/sbin",
    "_libexecdir": "/usr/libexec",
    "_datadir": "/usr/share",
    "_datarootdir": "/usr/share",
    "_sysconfdir": "/etc",
    "_localstatedir": "/var",
    "_sharedstatedir": "/var/lib",
    "_rundir": "/run",
    "_unitdir": "/usr/lib/systemd/system",
    "_sysctldir": "/usr/lib/sysctl.d",
    "_tmpfilesdir": "/usr/lib/tmpfiles.d",
    "_mandir": "/usr/share/man",
    "_docdir": "/usr/share/doc",
    "_defaultdocdir": "/usr/share/doc",
    "_licensedir": "/usr/share/licenses",
    "_pkgdocdir": "/usr/share/doc/%{name}",
    "_initddir": "/etc/rc.d/init.d",
    "_libdir": "/usr/lib64",
    "python3_pkgversion": "3",
    "__python3": "/usr/bin/python3",
}
SECTIONS = (
    "%package",
    "%description",
    "%prep",
    "%build",
    "%install",
    "%check",
    "%files",
    "%changelog",
    "%pre",
    "%post",
    "%preun",
    "%postun",
    "%pretrans",
    "%posttrans",
    "%triggerin",
    "%triggerun",
    "%triggerpostun",
    "%verifyscript",
    "%generate_buildrequires",
    "%conf",
)
_MACRO = re.compile(
    r"%\{(?P<neg>!?)(?P<cond>\??)(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<alt>[^{}]*))?\}"
)
_DEFINED = re.compile(r"%\{(?P<fn>defined|undefined)\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
_BARE = re.compile(r"%(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
_FILE_DIRECTIVE = re.compile(
    r"^%(?P<kind>config|attr|dir|doc|license|exclude|ghost|verify|lang|caps|defattr|docdir|"
    r"artifact|missingok)(?:\((?P<args>[^)]*)\))?\s*"
)
_REQUIRES = re.compile(r"^Requires\s*:\s*(?P<value>.+)$", re.IGNORECASE)
_PROVIDES = re.compile(r"^Provides\s*:\s*(?P<value>.+)$", re.IGNORECASE)
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+()-]*$")
_VERSIONED = re.compile(r"\s*(?:>=|<=|=>|=<|==|=|<|>)\s*\S+")  # =>: a typo rpm accepts


class SpecFile(StrictModel):
    """One entry of a %files list (and of the parity data, which records such entries)."""

    path: str
    directory: StrictBool = False
    config: StrictBool = False
    mode: str | None = None
    owner: str | None = None
    group: str | None = None

    def __init__(self, path: str | None = None, /, **data: Any) -> None:
        """`SpecFile("/etc/x", config=True)`: the path may be given first, as rpm lists it."""
        super().__init__(**({"path": path} if path is not None else {}), **data)


@dataclass
class BinaryPackage:
    name: str
    requires: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)  # names another image may install it by
    files: list[SpecFile] = field(default_factory=list)
    built: bool = False  # has a %files section: rpm builds only those packages


@dataclass
class Spec:
    name: str
    packages: dict[str, BinaryPackage]


class _Macros:
    def __init__(self, defines: dict[str, str]) -> None:
        self.values = {**STANDARD_MACROS, **defines}

    def expand(self, text: str) -> str:
        for _round in range(10):
            expanded = _DEFINED.sub(self._defined, text)
            expanded = _MACRO.sub(self._one, expanded)
            expanded = _BARE.sub(lambda m: self.values.get(m.group("name"), m.group(0)), expanded)
            if expanded == text:
                return expanded
            text = expanded
        return text

    def _defined(self, match: re.Match[str]) -> str:
        """%{defined name} is 1 when the macro is defined, %{undefined name} the opposite."""
        defined = match.group("name") in self.values
        return "1" if defined == (match.group("fn") == "defined") else "0"

    def _one(self, match: re.Match[str]) -> str:
        name, defined = match.group("name"), match.group("name") in self.values
        if match.group("cond"):
            holds = defined != bool(match.group("neg"))
            if match.group("alt") is not None:
                return match.group("alt") if holds else ""
            return self.values.get(name, "") if holds else ""
        return self.values.get(name, match.group(0))


_COMPARISONS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _value(node: ast.expr) -> int:
    """Numbers, comparisons, and/or/not: all an %if of RDO's specs uses once expanded."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BoolOp):
        values = [_value(item) for item in node.values]
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return int(not _value(node.operand))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS:
        compare = _COMPARISONS[type(node.ops[0])]
        return int(compare(_value(node.left), _value(node.comparators[0])))
    raise ValueError("not a numeric condition")


def _condition(expression: str) -> bool:
    """An %if expression after expansion; what cannot be evaluated is false."""
    text = expression.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\b0+(\d)", r"\1", text)  # 0%{?rhosp} expands to 00, not a Python literal
    try:
        return bool(_value(ast.parse(text.strip() or "0", mode="eval").body))
    except (SyntaxError, ValueError):
        return False


def _package_name(main: str, words: list[str]) -> str | None:
    """The binary package a %package/%files/%description line names."""
    options = [w for w in words if w.startswith("-")]
    rest = [w for w in words if not w.startswith("-")]
    if "-n" in options:
        index = words.index("-n")
        return words[index + 1] if index + 1 < len(words) else None
    if "-f" in words:
        index = words.index("-f")
        rest = [
            w for i, w in enumerate(words) if i not in (index, index + 1) and not w.startswith("-")
        ]
    return f"{main}-{rest[0]}" if rest else main


def requirement_names(value: str) -> list[str]:
    """`a >= 1, b` or `a b` -> [a, b] (names only; versions, epochs and rich deps dropped)."""
    if value.startswith("("):
        return []  # a rich dependency (a or b): not a single package
    text = _VERSIONED.sub("", value)
    if "%{" in text:
        return []  # a name this reader cannot expand (a Lua macro): rpmspec says more
    return [word for word in re.split(r"[\s,]+", text) if _PACKAGE_NAME.match(word)]


def _file_entry(line: str) -> SpecFile | None:
    """A %files line -> SpecFile, or None for docs, licences, exclusions and -f lists."""
    text = line.strip()
    directory = config = False
    mode = owner = group = None
    while True:
        match = _FILE_DIRECTIVE.match(text)
        if not match:
            break
        kind, args = match.group("kind"), match.group("args")
        if kind in ("doc", "license", "exclude", "docdir", "defattr"):
            return None
        if kind == "dir":
            directory = True
        elif kind == "config":
            config = True
        elif kind == "attr" and args:
            parts = [part.strip() for part in args.split(",")]
            if len(parts) == 3:
                mode = None if parts[0] == "-" else parts[0]
                owner = None if parts[1] == "-" else parts[1]
                group = None if parts[2] == "-" else parts[2]
        text = text[match.end() :]
    if not text.startswith("/"):
        return None
    return SpecFile(
        path=text.split()[0],
        directory=directory,
        config=config,
        mode=mode,
        owner=owner,
        group=group,
    )


@dataclass
class _Branch:
    """One %if ... %endif: whether a branch was taken yet, and whether this one is active."""

    taken: bool
    active: bool


_ARCHES = ("x86_64", "aarch64")


def _holds(keyword: str, argument: str, macros: _Macros) -> bool:
    """Whether an %if/%elif (or its arch and os forms) holds on the target."""
    if keyword in ("%if", "%elif"):
        return _condition(macros.expand(argument))
    named = macros.expand(argument).split()
    if keyword in ("%ifarch", "%elifarch"):
        return any(arch in named for arch in (*_ARCHES, "noarch"))
    if keyword in ("%ifnarch", "%elifnarch"):
        return not any(arch in named for arch in _ARCHES)
    if keyword in ("%ifos", "%elifos"):
        return "linux" in named
    return "linux" not in named  # %ifnos


def _conditional(line: str, branches: list[_Branch], macros: _Macros) -> None:
    """%if/%elif/%else/%endif: exactly one branch of a chain is active, as rpm has it."""
    keyword = line.split()[0]
    argument = line[len(keyword) :]
    if keyword.startswith("%if"):
        holds = _holds(keyword, argument, macros)
        branches.append(_Branch(taken=holds, active=holds))
    elif keyword.startswith("%elif") and branches:
        top = branches[-1]
        top.active = not top.taken and _holds(keyword, argument, macros)
        top.taken = top.taken or top.active
    elif keyword == "%else" and branches:
        top = branches[-1]
        top.active, top.taken = not top.taken, True
    elif keyword == "%endif" and branches:
        branches.pop()


def parse_spec(text: str, defines: dict[str, str] | None = None) -> Spec:
    """The binary packages of a spec: plain `Requires` and `%files`, macros expanded."""
    macros = _Macros(defines or {})
    lines = text.splitlines()
    # definitions first (rpm reads the whole preamble before %package lines refer to them)
    main = ""
    packages: dict[str, BinaryPackage] = {}
    section, current = "preamble", None
    branches: list[_Branch] = []
    skip_continuation = False
    for raw in lines:
        if skip_continuation:
            skip_continuation = raw.rstrip().endswith("\\")
            continue
        line = raw.strip()
        if line.startswith(("%if", "%else", "%elif", "%endif")):
            _conditional(line, branches, macros)
            continue
        if not all(branch.active for branch in branches):
            continue
        if line.startswith(("%global", "%define")):
            words = line.split(None, 2)
            if len(words) == 3 and "(" not in words[1]:
                if words[2].rstrip().endswith("\\"):
                    skip_continuation = True
                    continue
                macros.values[words[1]] = macros.expand(words[2].strip())
            elif line.rstrip().endswith("\\"):
                skip_continuation = True
            continue
        if line and line.split()[0] in SECTIONS:
            keyword = line.split()[0]
            section = keyword
            if keyword in ("%package", "%files"):
                name = _package_name(main, macros.expand(line).split()[1:])
                current = packages.setdefault(name, BinaryPackage(name)) if name else None
                if current is not None and keyword == "%files":
                    current.built = True
            continue
        if section == "preamble" and line.lower().startswith("name:"):
            main = macros.expand(line.split(":", 1)[1].strip())
            macros.values["name"] = main
            current = packages.setdefault(main, BinaryPackage(main))
            continue
        if section in ("preamble", "%package") and current is not None:
            match = _REQUIRES.match(line)
            if match:
                current.requires += requirement_names(macros.expand(match.group("value")))
            match = _PROVIDES.match(line)
            if match:
                current.provides += requirement_names(macros.expand(match.group("value")))
            continue
        if section == "%files" and current is not None and line and not line.startswith("#"):
            entry = _file_entry(macros.expand(line))
            if entry is not None:
                current.files.append(entry)
    return Spec(main, packages)
