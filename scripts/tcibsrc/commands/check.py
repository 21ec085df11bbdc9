"""`tcibsrc check`: fast offline consistency checks; one line per problem, non-zero on any."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator

from tcibsrc.catalog import Catalog, build_catalog, load_tcib
from tcibsrc.classify import classify
from tcibsrc.commands.graph import README, expected_readme
from tcibsrc.context import Context
from tcibsrc.contract import kolla_users
from tcibsrc.errors import ClassificationError, ToolkitError
from tcibsrc.tcib_images import TcibImage

Images = dict[str, TcibImage]
TreeCheck = Callable[[Context, Images], Iterator[str]]
ScopeCheck = Callable[[Context, Catalog], Iterator[str]]


def check_classification(ctx: Context, images: Images) -> Iterator[str]:
    """Every RPM name of every TCIB image is classified, not only those in scope."""
    for image in images.values():
        origin = ctx.display(image.files[-1])
        for rpm in image.rpms:
            try:
                classify(rpm)
            except ToolkitError as error:
                yield f"{origin}: tcib_packages: {rpm}: {error.problem} ({error.fix})"


def check_users(ctx: Context, images: Images) -> Iterator[str]:
    """Users the images create or run as have the kolla UIDs the operators expect."""
    known = kolla_users()
    for image in images.values():
        origin = ctx.display(image.files[-1])
        for user in image.managed_users:
            if user not in known:
                yield (
                    f"{origin}: uid_gid_manage {user}: no kolla UID known "
                    "(add it to scripts/tcibsrc/data/kolla_users.yaml)"
                )
        if image.user != "root" and image.user not in known:
            yield (
                f"{origin}: tcib_user {image.user}: no kolla UID known "
                "(add it to scripts/tcibsrc/data/kolla_users.yaml)"
            )


def check_readme_graph(ctx: Context, scoped: Catalog) -> Iterator[str]:
    """The Mermaid graph in the README matches the current scope."""
    try:
        _readme, current, wanted = expected_readme(ctx, scoped)
    except ToolkitError as error:
        yield error.line()
        return
    if current != wanted:
        yield f"{README}: the image graph is out of date (run `make graph`)"


TREE_CHECKS: tuple[TreeCheck, ...] = (check_classification, check_users)
SCOPE_CHECKS: tuple[ScopeCheck, ...] = (check_readme_graph,)


def collect_problems(ctx: Context) -> list[str]:
    """Run every check and gather all problems.

    A config or TCIB loading error stops here (nothing else can be checked); a problem in the
    scope is reported with the others.
    """
    images = load_tcib(ctx)
    problems: list[str] = []
    for tree_check in TREE_CHECKS:
        problems.extend(tree_check(ctx, images))
    try:
        scoped = build_catalog(ctx, images=images)
    except ClassificationError:
        return problems  # already reported, one line per name, by check_classification
    except ToolkitError as error:
        return [*problems, error.line()]
    for scope_check in SCOPE_CHECKS:
        problems.extend(scope_check(ctx, scoped))
    return problems


def run(ctx: Context, args: argparse.Namespace) -> int:
    problems = collect_problems(ctx)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check: ok ({len(TREE_CHECKS) + len(SCOPE_CHECKS)} checks)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="offline consistency checks (make check)")
    parser.set_defaults(handler=run)
