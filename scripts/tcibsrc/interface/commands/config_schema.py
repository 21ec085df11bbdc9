"""`tcibsrc config-schema`: write the config file's JSON schema (for editors) from its model."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.config import config_schema
from tcibsrc.common.context import Context

SCHEMA_FILE = "scripts/tcibsrc/schemas/config.schema.json"  # as a clone shows it


def schema_path() -> Path:
    """The toolkit's own copy (it belongs to the toolkit, not to a deployment's repository)."""
    return Path(str(resources.files("tcibsrc").joinpath("schemas/config.schema.json")))


def run(ctx: Context, args: argparse.Namespace) -> int:
    changed = write_text_atomic(schema_path(), config_schema())
    print(f"{SCHEMA_FILE}: {'updated' if changed else 'up to date'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config-schema", help="write the config's JSON schema (for editors) from its model"
    )
    parser.set_defaults(handler=run)
