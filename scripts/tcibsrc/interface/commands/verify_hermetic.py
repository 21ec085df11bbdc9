"""`tcibsrc verify-hermetic`: build an image's wheels offline from its locks, and report."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from tcibsrc.common.atomic import write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.table import text_table
from tcibsrc.interface.arguments import positive_int
from tcibsrc.python.index import index_url_from_environment
from tcibsrc.python.wheels_plan import images_with_locks
from tcibsrc.tcib.catalog import build_catalog
from tcibsrc.verify.hermetic import scratch_dir, verify_image, write_report

REPORT_DIR = Path("build/verify-hermetic")
SUMMARY_FILE = "summary.md"


def run(ctx: Context, args: argparse.Namespace) -> int:
    images = [args.image] if args.image else images_with_locks(ctx)
    if ctx.subset and not args.image:  # SCOPE=<subset>: its images (and parents) only
        scoped = set(build_catalog(ctx).images)
        images = [image for image in images if image in scoped]
    summary: list[tuple[str, dict[str, int], float]] = []
    index_url = index_url_from_environment(args.index_url)
    cargo = args.cargo_home or os.environ.get("CARGO_HOME_VENDORED")
    failed = 0
    for image in images:
        workdir = scratch_dir(ctx.repo_root / "build" / "hermetic", image)
        try:
            report = verify_image(
                ctx,
                image,
                index_url=index_url,
                jobs=args.jobs or os.cpu_count() or 1,
                hermeto_output=Path(args.hermeto_output) if args.hermeto_output else None,
                cargo_home=Path(cargo) if cargo else None,
                install_system=not args.no_install,
                workdir=workdir,
            )
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        rows = [
            [
                r["package"],
                r["role"],
                r["backend"],
                f"{r['seconds']:.1f}",
                r["status"],
                r.get("reason") or r.get("note") or "",
            ]
            for r in report["packages"]
        ]
        print(text_table(("package", "role", "backend", "seconds", "status", "note"), rows), end="")
        counts = {
            status: sum(1 for r in report["packages"] if r["status"] == status)
            for status in STATUSES
        }
        for row in report["packages"]:
            if row["status"] == "failed":
                print(f"\n--- {row['package']} failed; log tail:\n{row['log_tail']}")
        report_path = ctx.repo_root / REPORT_DIR / f"{image}.json"
        write_report(report_path, report)
        print(
            f"\n{image}: {counts['proven']} proven, {counts['wheel']} from their prefetched "
            f"wheels (install: wheel), {counts['failed']} failed, "
            f"{counts['not provable']} not provable here; network {report['network']}; "
            f"python {report['python']}; report {ctx.display(report_path)}"
        )
        failed += counts["failed"]
        seconds = sum(float(r["seconds"]) for r in report["packages"])
        summary.append((image, counts, seconds))
        if len(images) > 1:  # after each image, so a long run's progress is kept
            path = ctx.repo_root / REPORT_DIR / SUMMARY_FILE
            write_text_atomic(path, summary_markdown(summary, python=ctx.config.python_version))
    if len(images) > 1:
        shown = ctx.display(ctx.repo_root / REPORT_DIR / SUMMARY_FILE)
        print(f"\n{len(summary)} images; summary {shown}")
    return 1 if failed else 0


# built offline; taken from its prefetched wheels (install: wheel); failed; not provable here
STATUSES = ("proven", "wheel", "failed", "not provable")


def summary_markdown(rows: list[tuple[str, dict[str, int], float]], python: str) -> str:
    """Per image: packages proven, failed, not provable here (the table the README links)."""
    lines = [
        "| image | proven | from wheels | failed | not provable here "
        f"| build seconds (python {python}) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for image, counts, seconds in rows:
        lines.append(
            f"| {image} | {counts['proven']} | {counts['wheel']} | {counts['failed']} "
            f"| {counts['not provable']} | {seconds:.0f} |"
        )
    total = {key: sum(c[key] for _i, c, _s in rows) for key in STATUSES}
    lines.append(
        f"| **{len(rows)} images** | {total['proven']} | {total['wheel']} | {total['failed']} "
        f"| {total['not provable']} | {sum(s for *_r, s in rows):.0f} |"
    )
    return "\n".join(lines) + "\n"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-hermetic", help="build an image's wheels offline (unshare -n) from its locks"
    )
    parser.add_argument("--image", help="one image (default: every image with a lock)")
    parser.add_argument(
        "--hermeto-output", help="use this `hermeto fetch-deps` output instead of downloading"
    )
    parser.add_argument("--cargo-home", help="vendored crates for Rust sdists (CARGO_HOME)")
    parser.add_argument("--jobs", type=positive_int, help="parallel builds (default: all cores)")
    parser.add_argument("--index-url", help="where to fetch sdists (default: $INDEX_URL or PyPI)")
    parser.add_argument(
        "--no-install", action="store_true", help="do not apt-get install the Debian build packages"
    )
    parser.add_argument("--keep", action="store_true", help="keep build/hermetic/<image>-*")
    parser.set_defaults(handler=run)
