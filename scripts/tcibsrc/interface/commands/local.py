"""`tcibsrc prefetch|build|shell`: the Konflux build, on this machine (local_build.py)."""

from __future__ import annotations

import argparse
import os
import subprocess

from tcibsrc.common.context import Context
from tcibsrc.containers.render import BUILDER, WHEELS_STAGE
from tcibsrc.konflux.local_build import build, find_engine, prefetch, shell_command


def run_prefetch(ctx: Context, args: argparse.Namespace) -> int:
    crates = ctx.config.prefetch_rust_crates and not args.no_crates
    target = prefetch(ctx, args.image, rust_crates=crates)
    note = "" if crates else " (Rust crates not vendored: prefetch.rust_crates is off)"
    print(f"{ctx.display(target)}: hermeto output, cachi2.env and injected files{note}")
    return 0


def run_build(ctx: Context, args: argparse.Namespace) -> int:
    target = WHEELS_STAGE if args.wheels_only else None
    for name, tag, built in build(ctx, args.image, target=target):
        print(f"{name}: {tag} {'built' if built else '(already built for these inputs)'}")
    return 0


def run_shell(ctx: Context, args: argparse.Namespace) -> int:
    engine = find_engine()
    shell_command(ctx, args.image, "", engine)  # says it needs podman before anything is built
    builder = next(tag for name, tag, _built in build(ctx, args.image) if name == BUILDER)
    return subprocess.call(shell_command(ctx, args.image, builder, engine), env=os.environ)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prefetch", help="hermeto fetch-deps for an image, locally")
    parser.add_argument("image")
    parser.add_argument("--no-crates", action="store_true", help="skip cargo vendoring")
    parser.set_defaults(handler=run_prefetch)
    parser = subparsers.add_parser("build", help="build an image and its parents, network off")
    parser.add_argument("image")
    parser.add_argument("--wheels-only", action="store_true", help="only its wheels stage")
    parser.set_defaults(handler=run_build)
    parser = subparsers.add_parser("shell", help="a shell in the builder with the prefetch")
    parser.add_argument("image")
    parser.set_defaults(handler=run_shell)
