"""Build locally the way Konflux builds: hermeto's prefetch, then network-off image builds.

- prefetch: `hermeto fetch-deps` with the image's prefetch-input, read from its committed
  PipelineRun (the very JSON Konflux passes), into build/prefetch/<image>/output, then
  `generate-env` (cachi2.env for /cachi2/output) and `inject-files`. hermeto comes from PATH,
  else its container image (pinned in the config) runs with podman.
- build: the builder, then the image's parents not built yet, then the image, in graph order,
  with podman or buildah, `--network none`, hermeto's output mounted at /cachi2 as Konflux's
  buildah task does (its repository files over /etc/yum.repos.d). Each build is tagged
  `localhost/<component>:<input digest>` and skipped when that tag exists. The committed
  Containerfiles never change: a temporary copy points the parent's FROM at the local build.
- shell: an interactive shell in the builder, with the image's prefetch mounted and hermeto's
  environment sourced, network off, and a named pip cache volume kept between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tcibsrc.common.containerfile import context_sources, from_lines
from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import shown
from tcibsrc.common.errors import ToolkitError
from tcibsrc.common.yamlio import load_yaml
from tcibsrc.containers.render import BUILDER, RENDER_DIR
from tcibsrc.konflux.facts import PIPELINE_DATA, upstream_pipeline
from tcibsrc.konflux.pipelines import TEKTON_DIR
from tcibsrc.tcib.catalog import Catalog, build_catalog

PREFETCH_DIR = Path("build/prefetch")
HERMETO_HINT = (
    "install hermeto (https://github.com/hermetoproject/hermeto: `pip install` a release into "
    "a virtualenv of its own, outside this repository) and put it on PATH, or install podman "
    "to run its image"
)
ENGINE_HINT = "install podman, or buildah (Debian: apt-get install buildah)"
PIP_CACHE_VOLUME = "tcibsrc-pip-cache"


class LocalBuildError(ToolkitError):
    """A local prefetch, build or shell cannot run."""


def _run(command: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, check=False)
    if result.returncode != 0:
        raise LocalBuildError(
            what,
            f"failed (exit {result.returncode}): {shlex.join(command)}",
            "see its output above",
        )


# -- prefetch ---------------------------------------------------------------------------------


def prefetch_input_of(ctx: Context, image: str) -> str:
    """The prefetch-input of the image's push PipelineRun, as committed."""
    catalog = build_catalog(ctx)
    if image not in catalog.images and image != BUILDER:
        raise LocalBuildError(image, "not an image in scope", "`make images` lists them")
    path = ctx.repo_root / TEKTON_DIR / f"{ctx.config.component_name(image)}-push.yaml"
    if not path.is_file():
        raise LocalBuildError(ctx.display(path), "missing", "run `make pipelines`")
    run = load_yaml(path, display=ctx.display(path))
    params = (run.get("spec") or {}).get("params") if isinstance(run, dict) else None
    found = {item.get("name"): item.get("value") for item in params or [] if isinstance(item, dict)}
    if not isinstance(found.get("prefetch-input"), str):
        raise LocalBuildError(
            ctx.display(path), "has no prefetch-input param", "run `make pipelines`"
        )
    return found["prefetch-input"]


# hermeto's switch for its pip manager's cargo vendoring of Rust sdists
NO_CRATES = "HERMETO_PIP__IGNORE_DEPENDENCIES_CRATES"


def local_hermeto_image(ctx: Context) -> str:
    """prefetch.hermeto_image, else the image the pinned prefetch task runs (one pin: the
    task's, read from its definition by `make update-bundles`)."""
    if ctx.config.hermeto_image:
        return ctx.config.hermeto_image
    hermeto = upstream_pipeline().hermeto
    if hermeto is None:
        raise LocalBuildError(
            shown(PIPELINE_DATA),
            "no hermeto image recorded for the pinned prefetch task",
            "run `make update-bundles CATALOG=<container-build-catalog clone>`, or set "
            "prefetch.hermeto_image in config.yaml",
        )
    return hermeto.image


def hermeto_command(ctx: Context, root: Path, env: dict[str, str]) -> list[str]:
    program = os.environ.get("HERMETO") or shutil.which("hermeto")
    if program:
        return [program]
    podman = shutil.which("podman")
    if podman:
        variables = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        return [
            podman, "run", "--rm", *variables, "-v", f"{root}:{root}:Z", "-w", str(root),
            local_hermeto_image(ctx),
        ]  # fmt: skip
    raise LocalBuildError("hermeto", "not found on PATH, and podman is not installed", HERMETO_HINT)


# how each input of a prefetch-input is made, when it is missing
MAKE_INPUT = {
    "pip": "run `make pin-python-deps`",
    "rpm": "run `make lock-rpms` on a machine that reaches the CentOS mirrors, and commit "
    "rpms.lock.yaml",
    "generic": "run `make render`",
}


def missing_inputs(root: Path, packages: str) -> list[tuple[str, str]]:
    """(file, how to make it) for every file the prefetch-input names that is not there:
    hermeto would otherwise fetch for minutes and stop at the first one."""
    try:
        entries = json.loads(packages)
    except json.JSONDecodeError:
        return [("prefetch-input", "not JSON: run `make pipelines`")]
    missing: list[tuple[str, str]] = []
    for entry in entries if isinstance(entries, list) else []:
        kind = entry.get("type") if isinstance(entry, dict) else None
        base = root / str(entry.get("path", ".")) if isinstance(entry, dict) else root
        if kind == "pip":
            names = [
                *entry.get("requirements_files", []),
                *entry.get("requirements_build_files", []),
            ]
        elif kind == "rpm":
            names = ["rpms.lock.yaml"]
        elif kind == "generic":
            names = [str(entry.get("lockfile", "artifacts.lock.yaml"))]
        else:
            continue
        for name in names:
            if not (base / name).is_file():
                missing.append((str((base / name).relative_to(root)), MAKE_INPUT[kind]))
    return missing


def prefetch(ctx: Context, image: str, *, rust_crates: bool) -> Path:
    """hermeto fetch-deps, generate-env and inject-files into build/prefetch/<image>.

    Every input is checked first; hermeto writes into a staging directory that replaces the
    previous prefetch only when all three steps succeeded, so a failure leaves no partial
    output (and keeps the last good one)."""
    root = ctx.repo_root
    target = root / PREFETCH_DIR / image
    packages = prefetch_input_of(ctx, image)
    missing = missing_inputs(root, packages)
    if missing:
        files = ", ".join(name for name, _fix in missing)
        fixes = "; ".join(dict.fromkeys(fix for _name, fix in missing))
        raise LocalBuildError(
            f"prefetch-input of {image}", f"{files} missing, so hermeto cannot fetch", fixes
        )
    # where crates.io is out of reach, the cargo vendoring of Rust sdists is turned off (the
    # builds of those sdists then need crates from elsewhere)
    env = {} if rust_crates else {NO_CRATES: "true"}
    hermeto = hermeto_command(ctx, root, env)
    staging = target.with_name(f".{image}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    output = staging / "output"
    try:
        _run(
            [*hermeto, "fetch-deps", "--source", str(root), "--output", str(output), packages],
            root, "hermeto fetch-deps", env,
        )  # fmt: skip
        _run(
            [*hermeto, "generate-env", str(output), "--for-output-dir", "/cachi2/output",
             "--output", str(staging / "cachi2.env")],
            root, "hermeto generate-env", env,
        )  # fmt: skip
        _run(
            [*hermeto, "inject-files", str(output), "--for-output-dir", "/cachi2/output"],
            root, "hermeto inject-files", env,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


# -- build ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    program: str
    buildah: bool

    def build_command(self, *args: str) -> list[str]:
        """The engine's build, network off: podman's `--network none`; buildah's chroot
        isolation cannot set a network, so the whole build runs in `unshare -n`, as Konflux's
        buildah task isolates hermetic builds."""
        if self.buildah:
            offline = "--network" in args
            rest = [a for a in args if a not in ("--network", "none")]
            command = [self.program, *_buildah_storage(), "bud", "--isolation", _isolation()]
            if not offline:
                return [*command, *rest]
            if _isolation() == "chroot":
                return ["unshare", "-n", *command, *rest]
            return [*command, "--network", "none", *rest]
        return [self.program, "build", *args]

    def pull(self, reference: str) -> str | None:
        """Pull an image with the network on (Konflux's buildah task pulls before it isolates
        the RUN steps); None, or why it could not."""
        if self.buildah:
            command = [self.program, *_buildah_storage(), "pull", "--quiet", reference]
        else:
            command = [self.program, "pull", "--quiet", reference]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return None
        lines = (result.stderr or result.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit {result.returncode}"

    def tag_exists(self, tag: str) -> bool:
        if self.buildah:
            command = [self.program, *_buildah_storage(), "images", "--quiet", tag]
        else:
            command = [self.program, "image", "exists", tag]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        return result.returncode == 0 and (not self.buildah or bool(result.stdout.strip()))


def _buildah_storage() -> list[str]:
    """BUILDAH_STORAGE_DRIVER (vfs where overlay is not available), BUILDAH_ROOT (a storage of
    its own: the tests use one)."""
    options = []
    if os.environ.get("BUILDAH_STORAGE_DRIVER"):
        options += ["--storage-driver", os.environ["BUILDAH_STORAGE_DRIVER"]]
    if os.environ.get("BUILDAH_ROOT"):
        root = os.environ["BUILDAH_ROOT"]
        options += ["--root", f"{root}/storage", "--runroot", f"{root}/run"]
    return options


def _isolation() -> str:
    return os.environ.get("BUILDAH_ISOLATION", "chroot")


def find_engine() -> Engine:
    podman = shutil.which("podman")
    if podman:
        return Engine(podman, buildah=False)
    buildah = shutil.which("buildah")
    if buildah:
        return Engine(buildah, buildah=True)
    raise LocalBuildError("podman, buildah", "neither is installed", ENGINE_HINT)


def build_order(catalog: Catalog, image: str) -> list[str]:
    """The builder, then the image's ancestors, parents first, then the image."""
    return [BUILDER, *reversed(catalog.chain(image))]


def input_digest(ctx: Context, image: str, parent_digests: list[str], prefetch: Path | None) -> str:
    """What decides an image: its Containerfile directory, what it COPYs, its parents, and the
    prefetched inputs (names and sizes)."""
    digest = hashlib.sha256()
    directory = ctx.repo_root / RENDER_DIR / image
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(directory)).encode() + path.read_bytes())
    text = (directory / "Containerfile").read_text(encoding="utf-8")
    for source in context_sources(text):
        for path in sorted(ctx.repo_root.glob(source)):
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for item in files:
                digest.update(str(item.relative_to(ctx.repo_root)).encode() + item.read_bytes())
    for parent in parent_digests:
        digest.update(parent.encode())
    if prefetch is not None and prefetch.is_dir():
        for path in sorted(prefetch.rglob("*")):
            if path.is_file():
                digest.update(f"{path.relative_to(prefetch)}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def _local_containerfile(text: str, replacements: dict[str, str]) -> str:
    """The Containerfile with each of our FROM repositories pointed at its local build."""
    ours = {
        line.instruction.line: line for line in from_lines(text) if line.repository in replacements
    }
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number in ours:
            found = ours[number]
            line = line.replace(found.reference, replacements[found.repository], 1)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _pull_bases(engine: Engine, text: str, name: str) -> None:
    """The images a Containerfile starts FROM that are not built here (the distro's base, a
    parent not built locally) are pulled first, with the network on; the build itself then
    runs offline. buildah's chroot isolation builds inside `unshare -n`, where no pull works."""
    stages: set[str] = set()
    for line in from_lines(text):
        reference = line.reference
        local = reference in stages or reference == "scratch" or reference.startswith("localhost/")
        if reference and not local and not engine.tag_exists(reference):
            problem = engine.pull(reference)
            if problem is not None:
                raise LocalBuildError(
                    f"build {name}", f"{reference} cannot be pulled ({problem})",
                    "the build needs it from its registry: make that registry reachable, "
                    "or put the image into the engine's storage first",
                )  # fmt: skip
        if line.stage:
            stages.add(line.stage)


def build(
    ctx: Context,
    image: str,
    *,
    target: str | None = None,
    prefetch_root: Path | None = None,
) -> list[tuple[str, str, bool]]:
    """Build the image and what it needs; [(image, tag, built)] in order (built: not skipped)."""
    catalog = build_catalog(ctx)
    if image not in catalog.images:
        raise LocalBuildError(image, "not an image in scope", "`make images` lists them")
    engine = find_engine()
    prefetch_root = prefetch_root or ctx.repo_root / PREFETCH_DIR
    prefetch = prefetch_root / image
    if not (prefetch / "cachi2.env").is_file():
        raise LocalBuildError(
            ctx.display(prefetch), "no prefetch here", f"run `make prefetch IMAGE={image}` first"
        )
    tags: dict[str, str] = {}  # our repository -> local tag
    digests: dict[str, str] = {}
    done: list[tuple[str, str, bool]] = []
    for name in build_order(catalog, image):
        parent = catalog.images[name].parent if name in catalog.images else None
        parents = [
            digests[p] for p in (parent, BUILDER if name != BUILDER else None) if p in digests
        ]
        digest = input_digest(ctx, name, parents, prefetch)
        tag = f"localhost/{ctx.config.component_name(name)}:{digest}"
        repository = ctx.config.image_repository(name)
        last = name == image
        if engine.tag_exists(tag) and not (last and target):
            tags[repository], digests[name] = tag, digest
            done.append((name, tag, False))
            continue
        text = (ctx.repo_root / RENDER_DIR / name / "Containerfile").read_text(encoding="utf-8")
        local_text = _local_containerfile(text, tags)
        _pull_bases(engine, local_text, name)
        with tempfile.NamedTemporaryFile(
            "w", prefix=f".{name}.", suffix=".Containerfile", dir=ctx.repo_root, delete=False
        ) as handle:
            handle.write(local_text)
        try:
            # as Konflux: network off, but for an image the config builds with it on
            network = ["--network", "none"] if ctx.config.hermetic(name) else []
            args = [*network, "--file", handle.name, "--tag", tag]
            args += ["--volume", f"{prefetch}:/cachi2:z"]
            repos = sorted((prefetch / "output" / "deps" / "rpm").glob("*/repos.d"))
            if repos:
                args += ["--volume", f"{repos[0]}:/etc/yum.repos.d:z"]
            if last and target:
                args += ["--target", target]
            _run(engine.build_command(*args, str(ctx.repo_root)), ctx.repo_root, f"build {name}")
        finally:
            Path(handle.name).unlink(missing_ok=True)
        tags[repository], digests[name] = tag, digest
        done.append((name, tag, True))
    return done


# -- shell ------------------------------------------------------------------------------------


def shell_command(ctx: Context, image: str, builder_tag: str, engine: Engine) -> list[str]:
    prefetch = ctx.repo_root / PREFETCH_DIR / image
    inner = "set -a; . /cachi2/cachi2.env; set +a; exec bash -i"
    if engine.buildah:
        raise LocalBuildError(
            "make shell", "needs podman (buildah has no interactive run of an image)", ENGINE_HINT
        )
    return [
        engine.program, "run", "--rm", "-it", "--network", "none",
        "-v", f"{prefetch}:/cachi2:z", "-v", f"{PIP_CACHE_VOLUME}:/root/.cache/pip",
        "-v", f"{ctx.repo_root}:/src:z", "-w", "/src", builder_tag, "bash", "-c", inner,
    ]  # fmt: skip
