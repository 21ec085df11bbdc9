"""`tcibsrc summary`: the main job's report: everything loads and validates, in numbers."""

from __future__ import annotations

import argparse

from tcibsrc.catalog import build_catalog
from tcibsrc.classify import Kind
from tcibsrc.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    config = ctx.config
    catalog = build_catalog(ctx)
    scoped = catalog.ordered()
    projects = sorted({p for image in scoped for p in image.python_projects}, key=str.lower)
    kept = sorted({r for image in scoped for r in image.kept_rpms})
    replaced = sorted({r for image in scoped for r in image.source_rpms})
    classes = catalog.classifications
    print(
        f"config      {ctx.display(config.path)}: {config.series} ({config.release_version}), "
        f"{config.distro} {config.distro_major}, Python {config.python_version}, "
        f"arches {', '.join(config.arches)}"
    )
    print(f"registry    {config.image_repository('<image>')}")
    print(
        f"konflux     application {config.konflux_application} in "
        f"{config.konflux_tenant_namespace}, platforms "
        f"{', '.join(config.konflux_build_platforms)}"
    )
    print(f"tcib        {ctx.display(ctx.tcib_dir)}: {len(catalog.tcib_images)} images")
    print(
        f"scope       {len(scoped)} images: {len(catalog.scope.requested)} requested, "
        f"{len(catalog.scope.added_parents)} parents added "
        f"({', '.join(catalog.scope.added_parents) or 'none'})"
    )
    for note in catalog.scope.notes:
        print(f"            note: {note}")
    python_images = [image.name for image in scoped if image.python_projects]
    print(
        f"python      {len(projects)} projects built from source in {len(python_images)} "
        f"images: {', '.join(projects) or 'none'}"
    )
    kept_python = sorted(r for r in kept if classes[r].kind is Kind.KEPT)
    print(
        f"rpms        {len(kept)} kept ({len(kept_python)} Python-looking kept: "
        f"{', '.join(kept_python) or 'none'}); {len(replaced)} replaced by wheels"
    )
    print(
        "ok          config, TCIB definitions, scope and classification are valid; "
        "`make images` shows the table"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("summary", help="load and validate everything; print totals")
    parser.set_defaults(handler=run)
