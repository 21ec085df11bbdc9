"""`tcibsrc graph`: the image graph as Mermaid in the README, and as SVG with Graphviz."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from tcibsrc.common.atomic import replace_files
from tcibsrc.common.context import Context
from tcibsrc.tcib.catalog import Catalog, build_catalog
from tcibsrc.tcib.graph import dot, mermaid, replace_readme_section

README = "README.md"
SVG = Path("docs/image-graph.svg")


def expected_readme(ctx: Context, catalog: Catalog) -> tuple[Path, str, str]:
    """(README path, current text, text with the graph brought up to date)."""
    readme = ctx.repo_root / README
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    section = mermaid(catalog, ctx.config.base_image)
    return readme, current, replace_readme_section(current, section, README)


def render_svg(ctx: Context, catalog: Catalog) -> tuple[str | None, str]:
    """The SVG from Graphviz when it is installed (or None), and what happened."""
    dot_program = shutil.which("dot")
    if dot_program is None:
        return None, "graphviz is not installed, so no SVG was written (apt-get install graphviz)"
    result = subprocess.run(
        [dot_program, "-Tsvg"],
        input=dot(catalog, ctx.config.base_image),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None, f"graphviz failed, no SVG written: {result.stderr.strip()}"
    return result.stdout, f"wrote {SVG}"


def run(ctx: Context, args: argparse.Namespace) -> int:
    catalog = build_catalog(ctx)
    if args.print:
        print(mermaid(catalog, ctx.config.base_image), end="")
        return 0
    _readme, _current, wanted = expected_readme(ctx, catalog)
    files = {README: wanted}
    svg, said = (None, "") if args.no_svg else render_svg(ctx, catalog)
    if svg is not None:
        files[str(SVG)] = svg
    changed = replace_files(ctx.repo_root, files, [])  # the README and the SVG together
    print(f"{README}: image graph {'updated' if README in changed else 'already up to date'}")
    if said:
        print(said)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("graph", help="write the image graph into the README (+SVG)")
    parser.add_argument("--print", action="store_true", help="print the Mermaid graph only")
    parser.add_argument("--no-svg", action="store_true", help="do not write the SVG")
    parser.set_defaults(handler=run)
