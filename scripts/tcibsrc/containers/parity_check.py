"""make check: every image has what the RDO RPMs it replaces brought, or a waiver saying why not.

Per image: each Python requirement of those RPMs is in the image's lock (with its extras asked
for in the image's requirements), each system Requires is installed in the image or a parent,
each file the services or operators use is provided by some stage. One error a missing item,
naming the images, the RPM and the fix.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import shown
from tcibsrc.common.errors import Problem, warning
from tcibsrc.common.rdo_repository import rdo_repository
from tcibsrc.containers.artifacts import artifact_rpms, unpack_command
from tcibsrc.containers.render import RENDER_DIR, SYSTEM_CA_BUNDLE
from tcibsrc.python.lockfile import REQUIREMENTS_DIR
from tcibsrc.python.pinning import committed_projections
from tcibsrc.rpm.lock_inputs import packages_of
from tcibsrc.rpm.parity import (
    WAIVERS_DATA,
    ImageParity,
    image_parity,
    load_parity,
    load_waivers,
    requirement_parts,
    stand_in_note,
    waived_file,
)
from tcibsrc.tcib.catalog import Catalog, CatalogImage
from tcibsrc.tcib.contract import project_contracts

WAIVE = f"or waive it with a reason in {shown(WAIVERS_DATA)}"
REPIN = "re-pin with `make pin-python-deps`, which derives it from the parity data"
UNREAD = (
    "read its RDO spec (`make update-parity SPECS_DIR=` with rdo-packages/<name>-distgit), "
    f"or say why none is needed under unread: in {shown(WAIVERS_DATA)}"
)


def requested_extras(root: Path, image: str) -> dict[str, set[str]]:
    """name -> extras asked for in requirements/<image>.in and the .in files it includes."""
    found: dict[str, set[str]] = {}
    seen: set[Path] = set()
    queue = [root / REQUIREMENTS_DIR / f"{image}.in"]
    while queue:
        path = queue.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.startswith("-r "):
                queue.append(path.parent / line[3:].strip())
                continue
            try:
                requirement = Requirement(line) if line else None
            except InvalidRequirement:
                continue
            if requirement is not None:
                name = str(canonicalize_name(requirement.name))
                found.setdefault(name, set()).update(requirement.extras)
    return found


def _provided(path: str, texts: str, provides: set[str]) -> bool:
    """Some stage of the image (or its parents) makes `path`: said in a Containerfile, or
    provided by a project's wheels (contract.yaml's provides, directories, scripts)."""
    if any(
        fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(pattern, path)
        for pattern in provides
    ):
        return True
    plain = path.rstrip("/")
    if "*" in plain:
        return re.search(re.escape(plain.split("*")[0]), texts) is not None
    return re.search(rf"(?:\s|^|=){re.escape(plain)}(?:/?\s|/?$|/?;)", texts, re.M) is not None


def _image_provides(catalog: Catalog, chain: list[str]) -> set[str]:
    contracts = project_contracts()
    provides: set[str] = set()
    for name in chain:
        for project in catalog.images[name].python_projects:
            contract = contracts.get(canonicalize_name(project))
            if contract is None:
                continue
            provides |= set(contract.directories)
            provides |= {f"/usr/bin/{script.name}" for script in contract.scripts}
            provides |= set(contract.files)
            provides |= set(contract.provides)
    return provides


def locked_names(ctx: Context, image: str) -> list[str]:
    """What the image's locks install: its hash-locked pins and its git sources."""
    return committed_projections(ctx.repo_root / REQUIREMENTS_DIR, [image]).get(image, [])


def image_items(ctx: Context, image: CatalogImage) -> ImageParity | None:
    locked = locked_names(ctx, image.name)
    if not image.source_rpms and not locked:
        return None
    return image_parity(list(image.source_rpms), locked, ctx.config.series)


def parity_problems(ctx: Context, catalog: Catalog, files: dict[str, str]) -> Iterator[Problem]:
    """One line per missing item, naming every image that lacks it."""
    waivers = load_waivers()
    providers = load_parity(ctx.config.series).providers()
    note = stand_in_note(ctx.config.series)
    if note:
        yield warning(
            "parity",
            note,
            f"make update-parity SPECS_DIR=<its {ctx.config.series}-rdo checkouts> "
            f"SERIES={ctx.config.series}, where RDO has that branch",
        )
    releases = artifact_rpms(ctx.config)
    missing: dict[str, list[str]] = {}
    for image in catalog.ordered():
        for rpm in image.source_rpms:
            replaced = not ctx.config.rdo_repository and rpm in rdo_repository().rpms
            if rpm not in providers and rpm not in waivers.unread and not replaced:
                key = f"{rpm}: no parity data says what this RPM brought ({UNREAD})"
                missing.setdefault(key, []).append(image.name)
        items = image_items(ctx, image)
        if items is None:
            continue
        chain = catalog.chain(image.name)
        texts = "\n".join(files.get(f"{RENDER_DIR}/{name}/Containerfile", "") for name in chain)
        installed = {
            rpm
            for name in chain
            for rpm in packages_of(files.get(f"{RENDER_DIR}/{name}/Containerfile", ""))
        }
        locked = set(locked_names(ctx, image.name))
        extras = requested_extras(ctx.repo_root, image.name)
        for requirement, rpms in sorted(items.python.items()):
            if requirement in waivers.requires:
                continue
            name, wanted = requirement_parts(requirement)
            by = ", ".join(sorted(rpms))
            if name not in locked:
                key = f"{by} (RDO) requires {requirement}: not in the lock ({REPIN}, {WAIVE})"
            elif not wanted <= extras.get(name, set()):
                lacking = ",".join(sorted(wanted - extras.get(name, set())))
                key = (
                    f"{by} (RDO) requires {requirement}: the extra [{lacking}] is not asked "
                    f"for ({REPIN}, {WAIVE})"
                )
            else:
                continue
            missing.setdefault(key, []).append(image.name)
        for rpm, by_rpms in sorted(items.system.items()):
            if rpm in installed or rpm in waivers.requires:
                continue
            if rpm in releases and unpack_command(releases[rpm]) in texts:
                continue  # its upstream release is unpacked where it put its files (novnc)
            key = (
                f"{', '.join(sorted(by_rpms))} (RDO) requires the RPM {rpm}: installed by no "
                f"stage (render installs it in place of the RPM, {WAIVE})"
            )
            missing.setdefault(key, []).append(image.name)
        if "certifi" in locked and f'os.symlink("{SYSTEM_CA_BUNDLE}"' not in texts:
            key = (
                "certifi (PyPI) uses its own CA bundle, not the system one the operators mount "
                "their CA into, as RDO's patched python-certifi did (contract.yaml: certifi "
                "system_ca)"
            )
            missing.setdefault(key, []).append(image.name)
        provides = _image_provides(catalog, chain)
        for path, (_entry, rpm) in sorted(items.files.items()):
            if waived_file(path, waivers) or _provided(path, texts, provides):
                continue
            key = f"{rpm} (RDO) installed {path}: provided by no stage ({WAIVE})"
            missing.setdefault(key, []).append(image.name)
    for key, images in missing.items():
        shown = ", ".join(images[:4]) + (f" and {len(images) - 4} more" if len(images) > 4 else "")
        yield Problem(f"parity: {shown}", key)
