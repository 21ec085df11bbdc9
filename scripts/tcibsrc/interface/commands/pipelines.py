"""`tcibsrc pipelines` writes .tekton/ and renovate.json; `tcibsrc affected` evaluates them."""

from __future__ import annotations

import argparse

from tcibsrc.common.atomic import write_generated
from tcibsrc.common.context import Context
from tcibsrc.konflux.affected import affected, changed_files
from tcibsrc.konflux.pipelines import TEKTON_DIR, render_pipelines, stale_tekton_files
from tcibsrc.konflux.renovate import RENOVATE_FILE, render_renovate
from tcibsrc.python.preflight import validate_inputs
from tcibsrc.tcib.catalog import build_catalog


def all_files(ctx: Context) -> dict[str, str]:
    files = render_pipelines(ctx)
    config = ctx.config
    files[RENOVATE_FILE] = render_renovate(
        config.base_image, f"{config.registry_host}/{config.registry_namespace}/"
    )
    return files


def run_pipelines(ctx: Context, args: argparse.Namespace) -> int:
    validate_inputs(ctx, build_catalog(ctx))
    files = all_files(ctx)
    return write_generated(
        ctx.repo_root, files, stale_tekton_files(ctx, files), f"{TEKTON_DIR}/, {RENOVATE_FILE}"
    )


def run_affected(ctx: Context, args: argparse.Namespace) -> int:
    changed = list(args.files) if args.files else changed_files(ctx.repo_root, args.base)
    result = affected(ctx.repo_root / TEKTON_DIR, changed, ctx.config.konflux_branch)
    print(f"{len(changed)} changed file(s)")
    for event, names in result.items():
        listing = "\n  ".join(names) if names else "(none)"
        print(f"{event}:\n  {listing}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pipelines", help="write .tekton/ and renovate.json")
    parser.set_defaults(handler=run_pipelines)
    parser = subparsers.add_parser("affected", help="which PipelineRuns fire for a change")
    parser.add_argument("--base", default="HEAD~1", help="compare HEAD with this revision")
    parser.add_argument("files", nargs="*", help="changed files (instead of --base)")
    parser.set_defaults(handler=run_affected)
