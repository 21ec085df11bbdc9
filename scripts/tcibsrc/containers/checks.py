"""Static checks of rendered Containerfiles (dockerfile-parse) and of the operators' contract.

One Problem per finding. Warnings do not fail `make check` (unless STRICT=1): a parent never
built yet has a placeholder digest until Konflux builds it.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tcibsrc.common.containerfile import from_lines, instructions
from tcibsrc.common.context import Context
from tcibsrc.common.errors import Problem, warning
from tcibsrc.containers.render import PLACEHOLDER_DIGEST, RENDER_DIR, TCIB_CONTEXT_PATH
from tcibsrc.tcib.catalog import Catalog
from tcibsrc.tcib.contract import image_contracts, kolla_users, project_contracts

PLACEHOLDER_NOTE = "has a placeholder digest (the image has not been built yet)"
TCIB_HELPERS_NOTE = "cannot be checked: TCIB_DIR has no"
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_CHECKED_FOR_VARIABLES = {
    "FROM",
    "COPY",
    "ADD",
    "ENV",
    "LABEL",
    "WORKDIR",
    "USER",
    "EXPOSE",
    "VOLUME",
    "STOPSIGNAL",
}


def _source_exists(ctx: Context, source: str) -> bool | None:
    """True/False; None when it cannot be checked (TCIB helper files absent from TCIB_DIR)."""
    if source.startswith(TCIB_CONTEXT_PATH + "/"):
        relative = source[len(TCIB_CONTEXT_PATH) + 1 :]
        base = ctx.tcib_dir
        if not (base / relative.split("/")[0]).exists():
            return None
        return any(base.glob(relative)) or (base / relative).exists()
    return any(ctx.repo_root.glob(source)) or (ctx.repo_root / source).exists()


def static_problems(ctx: Context, relative: str, text: str) -> Iterator[Problem]:
    stages: set[str] = set()
    declared: set[str] = set()
    copied: list[tuple[str, str]] = []  # (source glob, destination) of every plain COPY
    for item in instructions(text):
        instruction, value = item.name, item.value
        where = f"{relative}:{item.line}"
        if instruction == "FROM":
            words = value.split()
            if len(words) == 3 and words[1].lower() == "as":
                stages.add(words[2])
            if PLACEHOLDER_DIGEST in words[0]:
                yield warning(where, f"{words[0].split('@')[0]} {PLACEHOLDER_NOTE}")
        if instruction in ("ARG", "ENV"):
            for part in value.split():
                declared.add(part.split("=", 1)[0])
        if instruction in _CHECKED_FOR_VARIABLES:
            for name in _VARIABLE.findall(value):
                if name not in declared:
                    yield Problem(where, f"${name} is used but no ARG or ENV declares it")
        if instruction in ("COPY", "ADD"):
            flags, words = item.flags_and_words
            if "from" in flags:
                if flags["from"] not in stages:
                    yield Problem(where, f"COPY --from={flags['from']}: no such stage")
                continue
            copied += [(source, words[-1]) for source in words[:-1]]
            for source in words[:-1]:
                exists = _source_exists(ctx, source)
                if exists is None:
                    helpers = source[len(TCIB_CONTEXT_PATH) + 1 :].split("/")[0]
                    yield warning(where, f"{source} {TCIB_HELPERS_NOTE} {helpers}/")
                elif not exists:
                    yield Problem(where, f"COPY source {source} is not in the build context")
        if instruction == "RUN":
            for stage in re.findall(r"--mount=\S*\bfrom=([^,\s]+)", value):
                if stage not in stages:
                    yield Problem(where, f"RUN --mount from={stage}: no such stage")
            for used in re.findall(r"(/tmp/requirements/[^\s;&|]+)", value):
                name = used.rsplit("/", 1)[-1]
                if not any(
                    dest.rstrip("/") == "/tmp/requirements"
                    and fnmatch.fnmatch(name, source.rsplit("/", 1)[-1])
                    for source, dest in copied
                ):
                    yield Problem(where, f"{used} is used but no COPY brings it into the stage")


def contract_problems(ctx: Context, catalog: Catalog, files: dict[str, str]) -> Iterator[Problem]:
    """Each image in scope keeps what its operator expects: UIDs and absolute paths."""
    users = kolla_users()
    projects = project_contracts()
    for image_name, contract in sorted(image_contracts().items()):
        if image_name not in catalog.images:
            continue
        chain = catalog.chain(image_name)
        relative = f"{RENDER_DIR}/{image_name}/Containerfile"
        managed = {u for name in chain for u in catalog.tcib_images[name].managed_users}
        for user, uid in sorted(contract.users.items()):
            known = users.get(user)
            if known is None or known.uid != uid:
                says = known.uid if known else "nothing"
                yield Problem(
                    relative,
                    f"user {user} must have UID {uid} for the operator; the kolla table "
                    f"says {says}",
                )
            if user not in managed:
                yield Problem(
                    relative, f"user {user} is never created (uid_gid_manage) in {image_name}"
                )
        provided: set[str] = set()
        texts = "\n".join(files.get(f"{RENDER_DIR}/{name}/Containerfile", "") for name in chain)
        for name in chain:
            for project in catalog.images[name].python_projects:
                found = projects.get(project.lower().replace("_", "-").replace(".", "-"))
                if found:
                    provided |= {f"/usr/bin/{script.name}" for script in found.scripts}
                    provided |= set(found.files)
        for path in contract.paths:
            mentioned = re.search(rf"(?:\s|^){re.escape(path)}(?:\s|$)", texts, re.M)
            if path not in provided and not mentioned:
                yield Problem(relative, f"{path} is provided by no stage (its operator calls it)")


_ARCH_WORDS = re.compile(r"\b(x86_64|aarch64|amd64|arm64|ppc64le|s390x)\b")


ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def arch_problems(relative: str, text: str, only_arch: str | None = None) -> Iterator[Problem]:
    """The same Containerfile builds every arch: no arch may be written into it (but the one
    arch of an image the config builds for that arch only, images.builds.<image>.platforms)."""
    for number, line in enumerate(text.splitlines(), start=1):
        found = _ARCH_WORDS.search(line)
        if found and only_arch and ARCH_ALIASES.get(found.group(1)) == only_arch:
            continue
        if found and not line.startswith("#"):
            yield Problem(
                f"{relative}:{number}", f"arch-specific '{found.group(1)}'", "use $basearch or none"
            )


def hadolint_findings(relative: str, text: str) -> Iterator[Problem]:
    """hadolint's findings, as warnings, where hadolint is installed."""
    program = shutil.which("hadolint")
    if program is None:
        return
    result = subprocess.run(
        [program, "--no-fail", "--format", "tty", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.strip():
            yield warning(relative, f"hadolint: {line.removeprefix('-:').strip()}")


def rendered_problems(ctx: Context, files: dict[str, str]) -> Iterator[Problem]:
    for relative, text in sorted(files.items()):
        if relative.endswith("/Containerfile"):
            yield from static_problems(ctx, relative, text)
            image = relative.removeprefix(f"{RENDER_DIR}/").split("/", 1)[0]
            arches = {
                ARCH_ALIASES.get(platform.rsplit("/", 1)[-1])
                for platform in ctx.config.build_platforms(image)
            }
            only = next(iter(arches)) if len(arches) == 1 else None
            yield from arch_problems(relative, text, only)
            yield from hadolint_findings(relative, text)


def parent_problems(ctx: Context, catalog: Catalog) -> Iterator[Problem]:
    """Every committed Containerfile builds FROM an image that is rendered too (or external)."""
    rendered = {ctx.config.image_repository(name) for name in catalog.images}
    rendered.add(ctx.config.image_repository("builder"))
    own_registry = f"{ctx.config.registry_host}/{ctx.config.registry_namespace}/"
    for name in catalog.images:
        path = ctx.repo_root / RENDER_DIR / name / "Containerfile"
        if not path.is_file():
            continue
        for line in from_lines(path.read_text(encoding="utf-8")):
            repository = line.repository
            if repository.startswith(own_registry) and repository not in rendered:
                yield Problem(
                    f"{RENDER_DIR}/{name}/Containerfile:{line.instruction.line}",
                    f"FROM {repository}: its image is not in scope, so it is never built",
                )


def committed_problems(ctx: Context, files: dict[str, str], stale: list[Path]) -> Iterator[Problem]:
    """Drift between containerfiles/ and what the inputs render."""
    for relative, text in sorted(files.items()):
        path = ctx.repo_root / relative
        if not path.is_file():
            yield Problem(relative, "missing", "run `make`")
        elif path.read_text(encoding="utf-8") != text:
            yield Problem(relative, "differs from what the inputs generate", "run `make`")
    for path in stale:
        yield Problem(ctx.display(path), "not generated from the current scope", "run `make`")
