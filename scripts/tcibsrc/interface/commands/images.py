"""`tcibsrc images`: the images in scope as a table (or JSON)."""

from __future__ import annotations

import argparse
import json
import sys

from tcibsrc.common.context import Context
from tcibsrc.common.table import markdown_table, text_table
from tcibsrc.tcib.catalog import Catalog, CatalogImage, build_catalog

HEADERS = (
    "image",
    "parent",
    "user (uid)",
    "service users",
    "kept RPMs",
    "Python projects",
    "customContainerImages",
)
# the columns a terminal shows by default (100 columns); --wide, Markdown and JSON give every
# column: service users, kept RPM names and customContainerImages keys too
NARROW = ("image", "parent", "user (uid)", "Python projects")
TERMINAL_WIDTH = 100


def _uid(uid: int | None) -> str:
    return "?" if uid is None else str(uid)


def image_row(image: CatalogImage) -> list[str]:
    return [
        image.name if image.requested else f"{image.name} *",
        image.parent or "(distro base)",
        f"{image.user} ({_uid(image.user_uid)})",
        ", ".join(f"{u.name} ({_uid(u.uid)})" for u in image.service_users) or "-",
        ", ".join(image.kept_rpms) or "-",
        ", ".join(image.python_projects) or "-",
        ", ".join(image.operator_keys) or "-",
    ]


def as_json(catalog: Catalog) -> str:
    payload = [
        {
            "name": image.name,
            "parent": image.parent,
            "requested": image.requested,
            "repository": image.repository,
            "from": image.from_reference,
            "explicit_from": image.explicit_from,
            "user": image.user,
            "user_uid": image.user_uid,
            "service_users": {u.name: u.uid for u in image.service_users},
            "kept_rpms": list(image.kept_rpms),
            "source_rpms": list(image.source_rpms),
            "python_projects": list(image.python_projects),
            "pip_packages": list(image.pip_packages),
            "operator_keys": list(image.operator_keys),
            "definition": list(image.definition),
        }
        for image in catalog.ordered()
    ]
    return json.dumps(payload, indent=2) + "\n"


def narrow(row: list[str]) -> list[str]:
    cells = dict(zip(HEADERS, row, strict=True))
    return [cells[header] for header in NARROW]


def run(ctx: Context, args: argparse.Namespace) -> int:
    catalog = build_catalog(ctx, everything=args.all)
    images = catalog.ordered()
    rows = [image_row(image) for image in images]
    if args.format == "json":
        print(as_json(catalog), end="")
    elif args.format == "markdown":
        print(markdown_table(HEADERS, rows), end="")
    elif args.wide:
        print(text_table(HEADERS, rows), end="")
    else:
        short = [narrow(row) for row in rows]
        print(
            text_table(NARROW, short, width=TERMINAL_WIDTH, wrap=("user (uid)", "Python projects")),
            end="",
        )
    # notes go to stderr: the table, Markdown or JSON on stdout stays clean for pipes
    total = len(catalog.tcib_images)
    if args.all:
        print(f"{len(rows)} of the {total} TCIB images", file=sys.stderr)
    else:
        print(
            f"{len(rows)} images ({len(catalog.scope.requested)} requested); "
            "* = added as the parent of an image in scope",
            file=sys.stderr,
        )
    for note in catalog.scope.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("images", help="table of the images in scope")
    parser.add_argument("--all", action="store_true", help="every TCIB image, not only the scope")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.add_argument(
        "--wide", action="store_true", help="every column, unwrapped (service users, RPM names)"
    )
    parser.set_defaults(handler=run)
