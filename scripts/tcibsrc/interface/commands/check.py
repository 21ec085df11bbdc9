"""`tcibsrc check`: fast offline consistency checks; one line per problem, non-zero on any error."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tcibsrc.common.atomic import STAGING_DIR
from tcibsrc.common.config import config_schema
from tcibsrc.common.context import Context
from tcibsrc.common.errors import ClassificationError, Problem, ToolkitError, warning
from tcibsrc.common.rdo_repository import rdo_repository
from tcibsrc.containers.checks import (
    PLACEHOLDER_NOTE,
    TCIB_HELPERS_NOTE,
    committed_problems,
    contract_problems,
    parent_problems,
    rendered_problems,
)
from tcibsrc.containers.network_check import network_problems
from tcibsrc.containers.parity_check import parity_problems
from tcibsrc.containers.render import RENDER_DIR, Renderer, stale_files
from tcibsrc.interface.commands.config_schema import SCHEMA_FILE, schema_path
from tcibsrc.interface.commands.graph import README, expected_readme
from tcibsrc.interface.commands.lock_rpms import validate
from tcibsrc.interface.commands.pin import derive_for, rpm_lock_versions
from tcibsrc.interface.commands.pipelines import all_files as pipeline_files
from tcibsrc.konflux.pipeline_checks import tekton_problems
from tcibsrc.konflux.pipelines import TEKTON_DIR, stale_tekton_files
from tcibsrc.konflux.tenant_policy import tenant_problems
from tcibsrc.python.index import index_url_from_environment
from tcibsrc.python.lock_rules import check_files
from tcibsrc.python.lockfile import (
    ALL,
    CONSTRAINTS_FILE,
    GIT_LOCK_SUFFIX,
    REQUIREMENTS_DIR,
    read_header,
)
from tcibsrc.python.pinning import compute_inputs, held_by_rpms
from tcibsrc.python.preflight import check_series, check_upper_constraints, lock_problems
from tcibsrc.python.requirements_in import ADDITIONS_FILE
from tcibsrc.python.upper_constraints import local_file_from_environment, upper_constraints_for
from tcibsrc.rpm.lock_checks import repo_problems, rpms_in_problems
from tcibsrc.rpm.lock_inputs import RPMS_IN, RPMS_LOCK, RPMS_REPO, packages_of
from tcibsrc.tcib.catalog import Catalog, build_catalog, load_tcib
from tcibsrc.tcib.classify import classify
from tcibsrc.tcib.contract import kolla_users
from tcibsrc.tcib.images import TcibImage
from tcibsrc.tcib.scope import suggest_image

Images = dict[str, TcibImage]
KOLLA_USERS_FIX = "add it to scripts/tcibsrc/data/kolla_users.yaml"
TreeCheck = Callable[[Context, Images], Iterator[Problem]]
ScopeCheck = Callable[[Context, Catalog], Iterator[Problem]]


def check_classification(ctx: Context, images: Images) -> Iterator[Problem]:
    """Every RPM name of every TCIB image is classified, not only those in scope."""
    for image in images.values():
        origin = ctx.display(image.files[-1])
        for rpm in image.rpms:
            try:
                classify(rpm)
            except ToolkitError as error:
                yield Problem(origin, f"tcib_packages: {rpm}: {error.problem}", error.fix)


def check_users(ctx: Context, images: Images) -> Iterator[Problem]:
    """Users the images create or run as have the kolla UIDs the operators expect."""
    known = kolla_users()
    for image in images.values():
        origin = ctx.display(image.files[-1])
        for user in image.managed_users:
            if user not in known:
                yield Problem(origin, f"uid_gid_manage {user}: no kolla UID known", KOLLA_USERS_FIX)
        if image.user != "root" and image.user not in known:
            yield Problem(origin, f"tcib_user {image.user}: no kolla UID known", KOLLA_USERS_FIX)


def check_config_schema(ctx: Context, images: Images) -> Iterator[Problem]:
    """The committed JSON schema of the config is the one its model emits."""
    path = schema_path()
    if not path.is_file() or path.read_text(encoding="utf-8") != config_schema():
        yield Problem(SCHEMA_FILE, "differs from the config's model", "run `make`")


GENERATED_DIRS = (".", "containerfiles", "requirements", ".tekton", "docs")


def check_leftovers(ctx: Context, images: Images) -> Iterator[Problem]:
    """No interrupted write is left: a staging directory or a temporary file of a rename."""
    for name in GENERATED_DIRS:
        directory = ctx.repo_root / name
        if (directory / STAGING_DIR).exists():
            yield Problem(
                ctx.display(directory / STAGING_DIR),
                "left by an interrupted run",
                "the next `make` completes or drops it",
            )
        if directory.is_dir():
            found = directory.glob(".*.tmp") if name == "." else directory.rglob(".*.tmp")
            for path in sorted(found):
                yield Problem(
                    ctx.display(path), "a temporary file left by an interrupted run", "remove it"
                )


def check_readme_graph(ctx: Context, scoped: Catalog) -> Iterator[Problem]:
    """The Mermaid graph in the README matches the current scope."""
    try:
        _readme, current, wanted = expected_readme(ctx, scoped)
    except ToolkitError as error:
        yield Problem(error.where, error.problem, error.fix)
        return
    if current != wanted:
        yield Problem(README, "the image graph is out of date", "run `make graph`")


def check_config_image_names(ctx: Context, images: Images) -> Iterator[Problem]:
    """The names in images.subsets and images.builds are TCIB images: a typo there would
    otherwise only surface when that subset is used, or never (a build setting ignored)."""
    config = ctx.config
    where = ctx.display(ctx.config_file)
    known = sorted(images)
    for subset, names in sorted(config.subsets.items()):
        for name in names:
            if name not in images:
                yield Problem(
                    where, f"images.subsets.{subset}: unknown image '{name}'",
                    suggest_image(name, known),
                )  # fmt: skip
    for name in sorted(config.image_builds):
        if name not in images:
            yield Problem(where, f"images.builds.{name}: unknown image", suggest_image(name, known))


TREE_CHECKS: tuple[TreeCheck, ...] = (
    check_config_image_names,
    check_classification,
    check_users,
    check_config_schema,
    check_leftovers,
)


def check_lock_rules(ctx: Context, scoped: Catalog) -> Iterator[Problem]:
    """Every lock file is one hermeto accepts, with a hash on every entry."""
    directory = ctx.repo_root / REQUIREMENTS_DIR
    locks = sorted(p for p in directory.glob("*.txt") if p.name != CONSTRAINTS_FILE)
    for problem in check_files(locks, ctx.display):
        fix = "run `make pin-python-deps FORCE=1`"
        message = f"{problem.message} ({problem.fix})" if problem.fix else problem.message
        yield Problem(problem.where, message, fix)


def check_lock_drift(ctx: Context, scoped: Catalog) -> Iterator[Problem]:
    """The .in files match the catalog and every lock was made from the current inputs."""
    directory = ctx.repo_root / REQUIREMENTS_DIR
    index_url = index_url_from_environment()
    constraints = directory / CONSTRAINTS_FILE
    uc = upper_constraints_for(ctx.config, local_file_from_environment(), offline=True)
    if uc is not None:
        try:
            check_upper_constraints(ctx, uc)
        except ToolkitError as error:
            yield _from_error(error)
            return
    if uc is None and not constraints.is_file():
        if any(image.python_projects for image in scoped.ordered()):
            yield Problem(ctx.display(constraints), "missing", "run `make pin-python-deps`")
        return
    committed = constraints.read_text(encoding="utf-8") if constraints.is_file() else None
    planned = compute_inputs(
        ctx,
        index_url,
        constraints_text=None if uc else committed,
        uc=uc,
        derive=derive_for(scoped, ctx.config),
        held=held_by_rpms(ctx.config, rpm_lock_versions(ctx)),
    )
    fix = "run `make pin-python-deps`"
    if uc is not None and committed != planned.constraints_text:
        yield Problem(ctx.display(constraints), "out of date", fix)
    for name, text in sorted(planned.in_files.items()):
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            yield Problem(ctx.display(path), "out of date with the catalog", fix)
    stale: list[str] = []
    for name in planned.expected_files():
        path = directory / name
        if not path.is_file():
            yield Problem(ctx.display(path), "missing", fix)
        elif name.endswith(".txt") and name != CONSTRAINTS_FILE:
            header = read_header(path.read_text(encoding="utf-8"))
            if header.edited:
                yield Problem(
                    ctx.display(path),
                    "edited by hand: the text no longer matches the content digest in its header",
                    "run `make pin-python-deps FORCE=1`",
                )
            elif header.inputs != planned.digest:
                stale.append(name)
    for path in sorted(directory.glob(f"*{GIT_LOCK_SUFFIX}.txt")):
        if path.name in planned.expected_files():
            continue  # checked above
        header = read_header(path.read_text(encoding="utf-8"))
        if header.edited:
            yield Problem(ctx.display(path), "edited by hand", "run `make pin-python-deps`")
        elif header.inputs != planned.digest:
            stale.append(path.name)
    if stale:
        shown = ", ".join(stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
        yield Problem(ctx.display(directory), f"{shown} made from other inputs", fix)
    for path in sorted(directory.glob("*.txt")) + sorted(directory.glob("*.in")):
        stem = path.name.removesuffix(".txt").removesuffix(".in")
        image = stem.removesuffix("-build-extra").removesuffix("-build").removesuffix("-git")
        if (
            path.name not in {CONSTRAINTS_FILE, ADDITIONS_FILE}
            and image != ALL
            and image not in planned.inputs
        ):
            yield Problem(ctx.display(path), "no image in scope uses it", fix)


def check_containerfiles(ctx: Context, scoped: Catalog) -> Iterator[Problem]:
    """containerfiles/ is what the inputs render, and what it renders is sound."""
    if any(not problem.is_warning for problem in lock_problems(ctx)):
        return  # reported by the lock checks; rendering from a broken lock proves nothing
    if not (ctx.repo_root / REQUIREMENTS_DIR / f"{ALL}.txt").is_file() and any(
        image.python_projects for image in scoped.ordered()
    ):
        return  # reported by check_lock_drift; rendering needs the locks
    renderer = Renderer(ctx, scoped)
    files = renderer.render()
    yield from committed_problems(ctx, files, stale_files(ctx, files))
    yield from rendered_problems(ctx, files)
    yield from parent_problems(ctx, scoped)
    yield from contract_problems(ctx, scoped, files)
    yield from parity_problems(ctx, scoped, files)
    yield from network_problems(ctx, scoped, files)
    yield from rdo_only_problems(ctx, scoped, files)


def rdo_only_problems(ctx: Context, scoped: Catalog, files: dict[str, str]) -> Iterator[Problem]:
    """Without RDO's Cloud SIG OpenStack repository, no image may install what only it
    builds: PyPI's replacements became Python, novnc its release; what a repository of the
    config provides instead (instead_of_rdo) comes from it; anything else is an error, named
    with the replacement chosen for it (the RPM lock would fail on it)."""
    if ctx.config.rdo_repository:
        return
    data = rdo_repository()
    provided = {  # by a repository of the config that stands in for RDO's (EPEL's gdisk)
        rpm for repo in ctx.config.rpm_repositories if repo.enabled for rpm in repo.instead_of_rdo
    }
    found: dict[str, list[str]] = {}
    for image in scoped.ordered():
        text = files.get(f"{RENDER_DIR}/{image.name}/Containerfile", "")
        for rpm in sorted(set(packages_of(text)) & set(data.rpms) - provided):
            found.setdefault(rpm, []).append(image.name)
    for rpm, images in sorted(found.items()):
        entry = data.rpms[rpm]
        yield Problem(
            f"{rpm} ({', '.join(images)})",
            f"only RDO's Cloud SIG OpenStack repository builds it ({entry.built_from}), and "
            f"{ctx.config.series} has none here; the replacement chosen: "
            f"{entry.chosen}",
            "add a repository that provides it, listing it in instead_of_rdo (see config.yaml's "
            "EPEL entry), or use RDO's repository (enabled: true)",
        )


def check_rpms(ctx: Context, scoped: Catalog) -> Iterator[Problem]:
    """rpms.repo: gpg-checked with allowed keys; rpms.lock.yaml: valid and current."""
    root = ctx.repo_root
    yield from tenant_problems(ctx.config, ctx.display(ctx.config_file))
    repo = root / RPMS_REPO
    if repo.is_file():
        yield from repo_problems(repo.read_text(encoding="utf-8"), RPMS_REPO)
    if (root / RPMS_IN).is_file():
        yield from rpms_in_problems((root / RPMS_IN).read_text(encoding="utf-8"), RPMS_IN)
    lock = root / RPMS_LOCK
    if not lock.is_file():
        yield warning(
            RPMS_LOCK,
            f"missing: the PipelineRuns of all {len(scoped.images) + 1} images (the builder "
            "included) prefetch it, so every Konflux build stops at hermeto; run `make lock-rpms` "
            "on a machine that reaches the CentOS mirrors and commit rpms.lock.yaml",
            "STRICT=1 fails on this",
        )
        return
    if (root / RPMS_IN).is_file() and repo.is_file():
        yield from validate(root, lock.read_text(encoding="utf-8"), RPMS_LOCK)


def check_pipelines(ctx: Context, scoped: Catalog) -> Iterator[Problem]:
    """.tekton/ and renovate.json are what the inputs generate, and .tekton/ is sound."""
    if lock_problems(ctx):
        return  # reported by the lock checks
    if not (ctx.repo_root / REQUIREMENTS_DIR / f"{ALL}.txt").is_file() and any(
        image.python_projects for image in scoped.ordered()
    ):
        return
    files = pipeline_files(ctx)
    yield from committed_problems(ctx, files, stale_tekton_files(ctx, files))
    if (ctx.repo_root / TEKTON_DIR).is_dir():
        not_hermetic = {
            ctx.config.component_name(image): build.reason
            for image, build in ctx.config.image_builds.items()
            if not build.hermetic
        }
        yield from tekton_problems(ctx.repo_root, ctx.repo_root / TEKTON_DIR, not_hermetic)


SCOPE_CHECKS: tuple[ScopeCheck, ...] = (
    check_readme_graph,
    check_lock_rules,
    check_lock_drift,
    check_containerfiles,
    check_rpms,
    check_pipelines,
)


def collect_problems(ctx: Context) -> list[Problem]:
    """Run every check and gather all problems.

    A config or TCIB loading error stops here (nothing else can be checked); a problem in the
    scope is reported with the others.
    """
    images = load_tcib(ctx)
    problems: list[Problem] = []
    for tree_check in TREE_CHECKS:
        problems.extend(tree_check(ctx, images))
    try:
        scoped = build_catalog(ctx, images=images)
    except ClassificationError:
        return problems  # already reported, one line per name, by check_classification
    except ToolkitError as error:
        return [*problems, _from_error(error)]
    try:
        check_series(ctx)
    except ToolkitError as error:
        return [*problems, _from_error(error)]  # every lock and rendering depends on it
    for scope_check in SCOPE_CHECKS:
        try:
            problems.extend(scope_check(ctx, scoped))
        except ToolkitError as error:
            problems.append(_from_error(error))
    return problems


def _from_error(error: ToolkitError) -> Problem:
    return Problem(error.where, error.problem, error.fix)


@dataclass(frozen=True)
class WarningKind:
    """How `make check` ranks a kind of warning, and the one line that stands for many."""

    marker: str
    rank: int  # 0: shown first (a build will fail), 1: worth reading, 2: expected for now
    summary: str | None = None  # "{count} ..." when several are grouped


WARNING_KINDS = (
    WarningKind(f"{RPMS_LOCK}: missing", 0),
    WarningKind("hadolint:", 1, "{count} hadolint findings"),
    WarningKind(
        PLACEHOLDER_NOTE,
        2,
        "{count} FROM lines wait for their parent's first build (placeholder digests; Konflux "
        "nudges write the digests)",
    ),
    WarningKind(
        TCIB_HELPERS_NOTE,
        2,
        "{count} COPY sources of TCIB's helper files cannot be checked: TCIB_DIR has no kolla/",
    ),
)


WARNING_PREFIX = "warning: "


def warning_lines(warnings: list[Problem], verbose: bool) -> list[str]:
    """The most serious warnings first; repeated kinds as one line unless `verbose`."""
    ranked: list[tuple[int, int, str]] = []
    groups: dict[WarningKind, list[str]] = {}
    texts = [f"{WARNING_PREFIX}{problem}" for problem in warnings]
    for order, text in enumerate(texts):
        kind = next((k for k in WARNING_KINDS if k.marker in text), None)
        if kind is None:
            ranked.append((1, order, text))
        elif kind.summary and not verbose:
            groups.setdefault(kind, []).append(text)
        else:
            ranked.append((kind.rank, order, text))
    for kind, members in groups.items():
        if len(members) == 1:
            ranked.append((kind.rank, texts.index(members[0]), members[0]))
        else:
            line = kind.summary.format(count=len(members))  # type: ignore[union-attr]
            ranked.append((kind.rank, len(texts), f"{WARNING_PREFIX}{line} (VERBOSE=1 lists them)"))
    return [text for _rank, _order, text in sorted(ranked)]


def run(ctx: Context, args: argparse.Namespace) -> int:
    findings = collect_problems(ctx)
    strict = args.strict or os.environ.get("STRICT") == "1"
    verbose = args.verbose or os.environ.get("VERBOSE") == "1"
    warnings = [finding for finding in findings if finding.is_warning]
    problems = [finding for finding in findings if not finding.is_warning]
    if strict:
        problems, warnings = [*problems, *warnings], []
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    for line in warning_lines(warnings, verbose):
        print(line, file=sys.stderr)
    if problems:
        print(f"check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    count = len(TREE_CHECKS) + len(SCOPE_CHECKS)
    note = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"check: ok ({count} checks{note})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="offline consistency checks (make check)")
    parser.add_argument("--strict", action="store_true", help="warnings fail too (also STRICT=1)")
    parser.add_argument("--verbose", action="store_true", help="show every warning (VERBOSE=1)")
    parser.set_defaults(handler=run)
