"""The catalog: every image in scope with its parent, kept RPMs and Python projects.

This is the one model that locks, Containerfiles, pipelines and manifests derive from.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from tcibsrc.common.context import Context
from tcibsrc.common.errors import TcibError
from tcibsrc.common.git import GitError, git
from tcibsrc.tcib.classify import Classification, Kind, classify_all, without_rdo
from tcibsrc.tcib.containers_yaml import read_containers_yaml
from tcibsrc.tcib.contract import kolla_users, operator_image_keys
from tcibsrc.tcib.images import TcibImage, load_images
from tcibsrc.tcib.scope import VALKEY_RELEASE, Scope, resolve_scope


@dataclass(frozen=True)
class ServiceUser:
    name: str
    uid: int | None


@dataclass(frozen=True)
class CatalogImage:
    """One image as this toolkit builds it."""

    name: str
    parent: str | None
    level: int
    requested: bool
    repository: str
    from_reference: str
    explicit_from: bool
    kept_rpms: tuple[str, ...]
    source_rpms: tuple[str, ...]
    python_projects: tuple[str, ...]
    pip_packages: tuple[str, ...]
    user: str
    service_users: tuple[ServiceUser, ...]
    operator_keys: tuple[str, ...]
    definition: tuple[str, ...]

    @property
    def user_uid(self) -> int | None:
        """UID of the final USER (root is 0), when the kolla table knows it."""
        if self.user == "root":
            return 0
        known = kolla_users().get(self.user)
        return known.uid if known else None


@dataclass(frozen=True)
class Catalog:
    tcib_images: dict[str, TcibImage]
    scope: Scope
    images: dict[str, CatalogImage]
    classifications: dict[str, Classification]

    def ordered(self) -> list[CatalogImage]:
        return [self.images[name] for name in self.scope.ordered]

    def chain(self, name: str) -> list[str]:
        """The image and its ancestors, nearest first (every stage that sees an image walks
        this: its parents' packages, users, contracts and locks are its own too)."""
        found: list[str] = []
        cursor: str | None = name
        while cursor is not None:
            found.append(cursor)
            cursor = self.images[cursor].parent
        return found


def load_tcib(ctx: Context) -> dict[str, TcibImage]:
    """Every TCIB image, expanded with this deployment's variables."""
    config = ctx.config
    if not ctx.tcib_dir.is_dir() and ctx.tcib_is_submodule:
        fetch_submodule(ctx)
    if not ctx.tcib_dir.is_dir():
        raise TcibError(
            ctx.display(ctx.tcib_dir),
            "TCIB directory not found",
            "run `git submodule update --init tcib`, or set TCIB_DIR to a TCIB "
            "container-images directory",
        )
    return load_images(
        ctx.tcib_dir,
        config.tcib_variables(),
        config.image_repository,
        config.base_image,
        ctx.display,
    )


SUBMODULE = "tcib"


def fetch_submodule(ctx: Context) -> None:
    """A fresh clone without `--recurse-submodules`: fetch TCIB at its pinned commit, once.
    Where its host is out of reach, say so in one line with the other ways."""
    gitmodules = ctx.repo_root / ".gitmodules"
    if not gitmodules.is_file() or f"path = {SUBMODULE}" not in gitmodules.read_text():
        return
    print(
        f"{SUBMODULE}: the submodule is empty; fetching it at its pinned commit "
        f"(git submodule update --init {SUBMODULE})",
        file=sys.stderr,
    )
    try:
        git(ctx.repo_root, "submodule", "update", "--init", SUBMODULE)
    except GitError as error:
        raise TcibError(
            SUBMODULE,
            f"the submodule could not be fetched ({error.problem})",
            "reach its host, or point it at a mirror (git config submodule.tcib.url <url>), or "
            "set TCIB_DIR to a TCIB container-images directory",
        ) from error


def _first_use(images: dict[str, TcibImage], ctx: Context) -> dict[str, str]:
    """RPM name -> the first image file that lists it, for error messages."""
    where: dict[str, str] = {}
    for image in images.values():
        origin = image.files[-1] if image.files else image.directory
        for rpm in image.rpms:
            where.setdefault(rpm, ctx.display(origin))
    return where


def catalog_image(
    image: TcibImage, classes: dict[str, Classification], ctx: Context, requested: bool
) -> CatalogImage:
    kept = [rpm for rpm in image.rpms if classes[rpm].kind is not Kind.SOURCE]
    source = [rpm for rpm in image.rpms if classes[rpm].kind is Kind.SOURCE]
    if not ctx.config.rdo_repository:  # a RUN line's RPM that only RDO builds: Python
        source += [
            rpm
            for rpm in image.action_rpms
            if rpm not in image.rpms and without_rdo(rpm) is not None
        ]
    projects = sorted({p for rpm in source for p in classes[rpm].projects}, key=str.lower)
    users = kolla_users()
    return CatalogImage(
        name=image.name,
        parent=image.parent,
        level=image.level,
        requested=requested,
        repository=ctx.config.image_repository(image.name),
        from_reference=image.variables["tcib_from"],
        explicit_from=image.explicit_from is not None,
        kept_rpms=tuple(kept),
        source_rpms=tuple(source),
        python_projects=tuple(projects),
        pip_packages=tuple(image.pip_packages),
        user=image.user,
        service_users=tuple(
            ServiceUser(name, users[name].uid if name in users else None)
            for name in image.managed_users
        ),
        operator_keys=operator_image_keys().get(image.name, ()),
        definition=tuple(ctx.display(path) for path in image.files),
    )


def build_catalog(
    ctx: Context, *, everything: bool = False, images: dict[str, TcibImage] | None = None
) -> Catalog:
    """Load config and TCIB, resolve the scope (or all images) and classify their RPMs (once
    per run: `make`'s steps share it)."""
    if images is None:
        key = ("catalog", everything)
        config = ctx.config
        kept = ctx.memo.get(key)
        if not (isinstance(kept, tuple) and kept[0] is config):  # a config re-read: anew
            kept = (config, _build_catalog(ctx, everything, load_tcib(ctx)))
            ctx.memo[key] = kept
        return kept[1]  # type: ignore[no-any-return]
    return _build_catalog(ctx, everything, images)


def _build_catalog(ctx: Context, everything: bool, images: dict[str, TcibImage]) -> Catalog:
    config = ctx.config
    requested = list(config.scope)
    if config.scope_from_containers_yaml:
        requested += read_containers_yaml(ctx.tcib_dir)
    left_out: list[str] = []
    if everything:
        requested = []
        for name in sorted(images):
            if name == "redis" and config.distro_major == VALKEY_RELEASE:
                left_out.append(
                    f"redis is not built on release {VALKEY_RELEASE}: TCIB excludes it there and "
                    "builds valkey instead"
                )
            elif name == "valkey" and config.distro_major != VALKEY_RELEASE:
                left_out.append(
                    f"valkey is built on release {VALKEY_RELEASE} only (TCIB builds redis on "
                    f"release {config.distro_major})"
                )
            else:
                requested.append(name)
    scope = resolve_scope(
        images, requested, config.exclude, config.distro_major, ctx.display(config.path)
    )
    excluded = [f"{name} is excluded by images.exclude" for name in config.exclude]
    if everything and (left_out or excluded):
        scope = replace(scope, notes=(*scope.notes, *left_out, *excluded))
    classes = classify_all(
        (rpm for name in scope.ordered for rpm in images[name].rpms),
        _first_use(images, ctx),
        rdo_repository=config.rdo_repository,
    )
    if not config.rdo_repository:  # what only RDO builds, installed by a RUN line: Python too
        for name in scope.ordered:
            for rpm in images[name].action_rpms:
                replaced = without_rdo(rpm)
                if replaced is not None:
                    classes.setdefault(rpm, replaced)
    cataloged = {
        name: catalog_image(images[name], classes, ctx, name in scope.requested)
        for name in scope.ordered
    }
    return Catalog(tcib_images=images, scope=scope, images=cataloged, classifications=classes)
