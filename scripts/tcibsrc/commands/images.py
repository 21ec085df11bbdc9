"""`tcibsrc images`: the images in scope as a table (or JSON)."""

from __future__ import annotations

import argparse
import json

from tcibsrc.catalog import Catalog, CatalogImage, build_catalog
from tcibsrc.context import Context
from tcibsrc.table import markdown_table, text_table

HEADERS = (
    "image",
    "parent",
    "user (uid)",
    "service users",
    "kept RPMs",
    "Python projects",
    "customContainerImages",
)


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


def run(ctx: Context, args: argparse.Namespace) -> int:
    catalog = build_catalog(ctx, everything=args.all)
    rows = [image_row(image) for image in catalog.ordered()]
    if args.format == "json":
        print(as_json(catalog), end="")
    elif args.format == "markdown":
        print(markdown_table(HEADERS, rows), end="")
    else:
        print(text_table(HEADERS, rows), end="")
        print(f"\n{len(rows)} images; * = added as the parent of an image in scope")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("images", help="table of the images in scope")
    parser.add_argument("--all", action="store_true", help="every TCIB image, not only the scope")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.set_defaults(handler=run)
