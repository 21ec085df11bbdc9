"""make check: a hermetically built image has no build step that reaches the network.

Konflux runs the RUN steps of a hermetic build with no network: a step that installs from PyPI,
downloads with curl or clones with git fails there, after minutes of prefetching. So every RUN
of every image whose PipelineRun is hermetic is read — and every TCIB helper script a RUN runs
(kolla's scripts, copied into the image from the TCIB tree) — for the tools that fetch:
package installers (pip, npm, gem, ansible-galaxy, go, cargo), curl and wget, git clone/fetch,
dnf given a URL or a repository to add. Our own stages install with `--no-index`, from what
hermeto prefetched, and pass.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

from tcibsrc.common.containerfile import instructions
from tcibsrc.common.context import Context
from tcibsrc.common.errors import Problem
from tcibsrc.containers.render import RENDER_DIR
from tcibsrc.tcib.catalog import Catalog

TCIB_IN_IMAGE = "/usr/share/tcib/container-images/"
_SEGMENTS = re.compile(r"&&|\|\||;|\||\n")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"sudo", "env", "exec", "time", "nice", "xargs"}
_SHELLS = {"bash", "sh", "/bin/bash", "/bin/sh"}
_PYTHONS = re.compile(r"^(?:/usr/bin/)?python[0-9.]*$")
FETCHERS = {"curl": "curl", "wget": "wget"}
INSTALLERS = {  # command -> (subcommands that fetch, the name shown)
    "pip": ({"install", "download", "wheel"}, "pip install"),
    "npm": ({"install", "i", "ci", "update"}, "npm install"),
    "yarn": ({"install", "add"}, "yarn"),
    "gem": ({"install"}, "gem install"),
    "ansible-galaxy": ({"install", "collection", "role"}, "ansible-galaxy"),
    "go": ({"get", "install", "mod"}, "go get"),
    "cargo": ({"install", "fetch", "build"}, "cargo"),
    "git": ({"clone", "fetch", "pull", "submodule"}, "git clone"),
}


def _words(segment: str) -> list[str]:
    try:
        words = shlex.split(segment, comments=True)
    except ValueError:
        words = segment.split()
    while words and (_ASSIGNMENT.match(words[0]) or words[0] in _WRAPPERS):
        wrapper = words[0] in _WRAPPERS
        words = words[1:]
        while wrapper and words and words[0].startswith("-"):  # sudo -E, nice -n 10
            words = words[2:] if words[0] in {"-n", "-u", "-g"} else words[1:]
    return words


def fetches(command: str) -> list[str]:
    """The network tools one shell command line uses, as shown in the message."""
    found: list[str] = []
    for segment in _SEGMENTS.split(command):
        words = _words(segment.strip())
        if not words:
            continue
        program = words[0].rsplit("/", 1)[-1]
        rest = words[1:]
        if _PYTHONS.match(program) and rest[:2] == ["-m", "pip"]:
            program, rest = "pip", rest[2:]
        program = "pip" if re.fullmatch(r"pip[0-9.]*", program) else program
        if program in FETCHERS:
            found.append(FETCHERS[program])
        elif program in INSTALLERS:
            subcommands, shown = INSTALLERS[program]
            offline = "--no-index" in rest or "--offline" in rest
            if rest and rest[0] in subcommands and not offline:
                found.append(shown)
        elif program in {"dnf", "yum", "microdnf"} and (
            any(word.startswith(("http://", "https://")) for word in rest)
            or "--add-repo" in rest
            or "copr" in rest
        ):
            found.append(f"{program} from a URL")
    return found


def executed_scripts(command: str) -> list[str]:
    """Paths of the scripts a command line runs (directly, or through a shell)."""
    found = []
    for segment in _SEGMENTS.split(command):
        words = _words(segment.strip())
        if words and words[0] in _SHELLS:
            words = [word for word in words[1:] if not word.startswith("-")]
        if words and words[0].startswith("/"):
            found.append(words[0])
    return found


def _copies(commands: list[str]) -> dict[str, str]:
    """destination -> TCIB source of every `cp <TCIB file> <destination>` of the RUN steps."""
    found = {}
    for command in commands:
        for segment in _SEGMENTS.split(command):
            words = _words(segment.strip())
            if len(words) >= 3 and words[0] == "cp" and words[-2].startswith(TCIB_IN_IMAGE):
                found[words[-1]] = words[-2]
    return found


def _script_text(ctx: Context, path: str, copies: dict[str, str]) -> tuple[str, str] | None:
    """(its path in the TCIB tree as shown, its text) for a script that comes from TCIB."""
    source = copies.get(path, path)
    if not source.startswith(TCIB_IN_IMAGE):
        return None
    local = ctx.tcib_dir / source.removeprefix(TCIB_IN_IMAGE)
    try:
        return ctx.display(local), Path(local).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def network_problems(ctx: Context, catalog: Catalog, files: dict[str, str]) -> Iterator[Problem]:
    """One line per hermetic image with a build step that reaches the network."""
    runs = {
        name: [
            (item.line, item.value)
            for item in instructions(files.get(f"{RENDER_DIR}/{name}/Containerfile", ""))
            if item.name == "RUN"
        ]
        for name in catalog.images
    }
    copies = _copies([command for steps in runs.values() for _line, command in steps])
    config = ctx.config
    for name in sorted(catalog.images):
        if not config.hermetic(name):
            continue
        relative = f"{RENDER_DIR}/{name}/Containerfile"
        found: list[str] = []
        for line, command in runs[name]:
            tools = fetches(command)
            if tools:
                found.append(f"line {line}: {', '.join(dict.fromkeys(tools))}")
            for script in executed_scripts(command):
                text = _script_text(ctx, script, copies)
                if text is None:
                    continue
                shown, body = text
                tools = [tool for row in body.splitlines() for tool in fetches(row)]
                if tools:
                    found.append(f"line {line} runs {shown}: {', '.join(dict.fromkeys(tools))}")
        if found:
            yield Problem(
                relative,
                "its PipelineRun is hermetic but its build reaches the network "
                f"({'; '.join(found)})",
                "prefetch what it fetches (a Python lock, hermeto's generic fetcher), or build "
                f"it with the network on: images.builds.{name}: {{hermetic: false, reason: ...}} "
                "in config.yaml",
            )
