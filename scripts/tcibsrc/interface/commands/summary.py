"""`tcibsrc summary`: the main job's report: everything loads and validates, in numbers."""

from __future__ import annotations

import argparse
import textwrap

from tcibsrc.common.context import Context
from tcibsrc.tcib.catalog import build_catalog
from tcibsrc.tcib.classify import Kind

WIDTH = 100
LABEL = 12


def line(label: str, text: str) -> None:
    """One labelled fact, wrapped to a terminal's width under its label."""
    print(
        textwrap.fill(
            text,
            WIDTH,
            initial_indent=label.ljust(LABEL),
            subsequent_indent=" " * LABEL,
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def run(ctx: Context, args: argparse.Namespace) -> int:
    config = ctx.config
    catalog = build_catalog(ctx)
    scoped = catalog.ordered()
    projects = sorted({p for image in scoped for p in image.python_projects}, key=str.lower)
    kept = sorted({r for image in scoped for r in image.kept_rpms})
    replaced = sorted({r for image in scoped for r in image.source_rpms})
    classes = catalog.classifications
    line(
        "config",
        f"{ctx.display(config.path)}: {config.series} ({config.release_version}), "
        f"{config.distro} {config.distro_major}, Python {config.python_version}, "
        f"arches {', '.join(config.arches)}",
    )
    line("registry", config.image_repository("<image>"))
    line(
        "konflux",
        f"application {config.konflux_application} in {config.konflux_tenant_namespace}, "
        f"platforms {', '.join(config.konflux_build_platforms)}",
    )
    line("tcib", f"{ctx.display(ctx.tcib_dir)}: {len(catalog.tcib_images)} images")
    line(
        "scope",
        f"{len(scoped)} images: {len(catalog.scope.requested)} requested, "
        f"{len(catalog.scope.added_parents)} parents added "
        f"({', '.join(catalog.scope.added_parents) or 'none'})",
    )
    for note in catalog.scope.notes:
        line("", f"note: {note}")
    python_images = [image.name for image in scoped if image.python_projects]
    line(
        "python",
        f"{len(projects)} projects built from source in {len(python_images)} images: "
        f"{', '.join(projects) or 'none'}",
    )
    kept_python = sorted(r for r in kept if classes[r].kind is Kind.KEPT)
    line(
        "rpms",
        f"{len(kept)} kept ({len(kept_python)} Python-looking kept: "
        f"{', '.join(kept_python) or 'none'}); {len(replaced)} replaced by wheels",
    )
    line(
        "ok",
        "config, TCIB definitions, scope and classification are valid; "
        "`make images` shows the table",
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("summary", help="load and validate everything; print totals")
    parser.set_defaults(handler=run)
