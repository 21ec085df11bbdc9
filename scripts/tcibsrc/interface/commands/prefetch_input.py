"""`tcibsrc prefetch-input IMAGE`: the hermeto prefetch-input JSON of one image."""

from __future__ import annotations

import argparse

from tcibsrc.common.context import Context
from tcibsrc.common.errors import ScopeError
from tcibsrc.containers.render import Renderer
from tcibsrc.konflux.prefetch_input import as_json, prefetch_input
from tcibsrc.tcib.catalog import build_catalog


def run(ctx: Context, args: argparse.Namespace) -> int:
    catalog = build_catalog(ctx)
    if args.image not in catalog.images:
        raise ScopeError(args.image, "not an image in scope", "see make images")
    plan = Renderer(ctx, catalog).python_plan(catalog.images[args.image])
    print(as_json(prefetch_input(ctx, args.image, bool(plan and plan.own))))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prefetch-input", help="hermeto prefetch-input JSON of an image")
    parser.add_argument("image")
    parser.set_defaults(handler=run)
