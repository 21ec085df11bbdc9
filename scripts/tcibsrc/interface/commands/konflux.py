"""`tcibsrc update-bundles` (Konflux's pipeline and policy facts as data) and
`tcibsrc konflux-manifests` (the tenant's Application, Components, ImageRepositories)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tcibsrc.common.atomic import write_generated, write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.datafiles import shown
from tcibsrc.common.errors import ToolkitError
from tcibsrc.konflux.facts import PIPELINE_DATA, POLICY_DATA
from tcibsrc.konflux.tenant_manifests import KONFLUX_DIR, git_url, manifests
from tcibsrc.konflux.update_bundles import (
    PIPELINE_HEADER,
    POLICY_HEADER,
    PREFETCH_TASK,
    hermeto_image,
    kept_policy,
    newer_in_catalog,
    read_pipeline,
    read_policy,
    render_data,
)


def run_update_bundles(ctx: Context, args: argparse.Namespace) -> int:
    if not args.build_definitions or not args.ec_policy_data:
        raise ToolkitError(
            "update-bundles",
            "needs both checkouts",
            "set BUILD_DEFINITIONS= to a konflux-ci/build-definitions clone and EC_POLICY_DATA= "
            "to a release-engineering/rhtap-ec-policy clone",
        )
    pinned_by = Path(args.pinned_bundles) if args.pinned_bundles else None
    catalog = Path(args.catalog) if args.catalog else None
    pipeline = read_pipeline(Path(args.build_definitions), pinned_by)
    prefetch = next((t for t in pipeline["tasks"] if t["task"] == PREFETCH_TASK), None)
    committed = ctx.repo_root / shown(PIPELINE_DATA)
    kept = (kept_policy(committed) or {}).get("hermeto") if committed.is_file() else None
    image, note = (
        hermeto_image(Path(args.build_definitions), catalog, prefetch["bundle"], kept)
        if prefetch
        else (None, None)
    )
    if image:
        pipeline["hermeto"] = image
    for line in [*([note] if note else []), *newer_in_catalog(catalog, pipeline["tasks"])]:
        print(f"note: {line}", file=sys.stderr)
    catalog_tasks = [task["task"] for task in pipeline["tasks"]]
    policy = read_policy(
        Path(args.ec_policy_data), catalog_tasks, kept_policy(ctx.repo_root / shown(POLICY_DATA))
    )
    for name, header, data in (
        (PIPELINE_DATA, PIPELINE_HEADER, pipeline),
        (POLICY_DATA, POLICY_HEADER, policy),
    ):
        target = ctx.repo_root / shown(name)
        changed = write_text_atomic(target, render_data(header, data))
        print(f"{ctx.display(target)}: {'updated' if changed else 'unchanged'}")
    return 0


def run_konflux_manifests(ctx: Context, args: argparse.Namespace) -> int:
    files, notes = manifests(ctx, git_url(ctx, args.git_url))  # validated before writing
    directory = ctx.repo_root / KONFLUX_DIR
    stale = [
        path
        for path in sorted(directory.glob("*.yaml"))
        if directory.is_dir()
        if f"{KONFLUX_DIR}/{path.name}" not in files
    ]
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return write_generated(ctx.repo_root, files, stale, f"{KONFLUX_DIR}/")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "konflux-manifests", help="konflux/: Application, Components, ImageRepositories"
    )
    parser.add_argument("--git-url", default=os.environ.get("GIT_URL"))
    parser.set_defaults(handler=run_konflux_manifests)
    parser = subparsers.add_parser(
        "update-bundles", help="task bundles and release policy data from local checkouts"
    )
    parser.add_argument("--build-definitions", default=os.environ.get("BUILD_DEFINITIONS"))
    parser.add_argument("--ec-policy-data", default=os.environ.get("EC_POLICY_DATA"))
    parser.add_argument(
        "--pinned-bundles",
        default=os.environ.get("PINNED_BUNDLES") or None,
        help="a clone whose .tekton/ MintMaker pins (digests skopeo cannot ask quay.io for)",
    )
    parser.add_argument(
        "--catalog",
        default=os.environ.get("CATALOG") or None,
        help="a konflux-ci/container-build-catalog clone: the tasks' definitions (the hermeto "
        "image of the pinned prefetch task, newer task versions)",
    )
    parser.set_defaults(handler=run_update_bundles)
