"""`tcibsrc deploy-manifests | deploy | deploy-check | update-crds`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tcibsrc.common.atomic import write_generated, write_text_atomic
from tcibsrc.common.context import Context
from tcibsrc.common.crd_schemas import (
    APPLICATION_API,
    CRD_DATA,
    IMAGE_CONTROLLER,
    OPENSTACK_OPERATOR,
    read_crds,
    render_crd,
)
from tcibsrc.common.errors import ToolkitError
from tcibsrc.deploy.cluster import deploy, deploy_check
from tcibsrc.deploy.manifests import (
    DeployError,
    DeploySettings,
    manifests,
    registry_images,
    snapshot_images,
)
from tcibsrc.tcib.catalog import build_catalog


def settings_of(args: argparse.Namespace) -> DeploySettings:
    return DeploySettings(
        name=args.name,
        namespace=args.namespace,
        target_version=args.target_version,
        storage_class=args.storage_class,
        secret=args.secret,
        extras=tuple(name.strip() for name in (args.enable or "").split(",") if name.strip()),
    )


def run_manifests(ctx: Context, args: argparse.Namespace) -> int:
    if args.snapshot:
        path = Path(args.snapshot)
        source = ctx.display(path.resolve()) if path.is_absolute() else args.snapshot
        references = snapshot_images(path, source)
        source = f"the Snapshot {source}"
    elif args.tag:
        images = [image.name for image in build_catalog(ctx).ordered() if image.operator_keys]
        references = registry_images(ctx, images, args.tag)
        source = f"the registry's digests of tag {args.tag}"
    else:
        raise DeployError(
            "make deploy-manifests", "no image digests given",
            "give SNAPSHOT=snapshot.json (a Konflux Snapshot) or TAG=<tag> (asked of the "
            "registry with skopeo)",
        )  # fmt: skip
    files, notes = manifests(ctx, references, settings_of(args), source)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return write_generated(ctx.repo_root, files, [], "deploy/")


def timeout_of(args: argparse.Namespace) -> float:
    """--timeout, else $TIMEOUT, else 1800 s; read only by the command that waits."""
    given = args.timeout or os.environ.get("TIMEOUT") or "1800"
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise DeployError(f"TIMEOUT={given}", "not a number of seconds", "write e.g. TIMEOUT=1800")
    return seconds


def run_deploy(ctx: Context, args: argparse.Namespace) -> int:
    deploy(ctx, args.stage, settings_of(args), timeout=timeout_of(args))
    return 0


def run_check(ctx: Context, args: argparse.Namespace) -> int:
    return 1 if deploy_check(settings_of(args)) else 0


def run_update_crds(ctx: Context, args: argparse.Namespace) -> int:
    checkouts = {
        OPENSTACK_OPERATOR: args.openstack_operator,
        APPLICATION_API: args.application_api,
        IMAGE_CONTROLLER: args.image_controller,
    }
    given = {repository: path for repository, path in checkouts.items() if path}
    if not given:
        raise ToolkitError(
            "update-crds",
            "no checkout given",
            "set OPENSTACK_OPERATOR=, APPLICATION_API= and/or IMAGE_CONTROLLER= to checkouts",
        )
    for repository, checkout in given.items():
        for kind, data in read_crds(repository, Path(checkout)).items():
            target = ctx.repo_root / "scripts" / "tcibsrc" / CRD_DATA / f"{kind}.json"
            changed = write_text_atomic(target, render_crd(data))
            print(f"{ctx.display(target)}: {'updated' if changed else 'unchanged'}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="openstack", help="the control plane's name")
    parser.add_argument("--namespace", default=os.environ.get("NAMESPACE") or "openstack")
    parser.add_argument("--target-version", default=os.environ.get("TARGET_VERSION") or "0.0.1")
    parser.add_argument(
        "--storage-class", default=os.environ.get("STORAGE_CLASS") or "local-storage"
    )
    parser.add_argument("--secret", default=os.environ.get("SECRET") or "osp-secret")
    parser.add_argument(
        "--enable",
        default=os.environ.get("ENABLE"),
        help="services to enable beyond the minimal plane, comma-separated (default: $ENABLE)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("deploy-manifests", help="write deploy/ (validated)")
    _common(parser)
    parser.add_argument("--snapshot", default=os.environ.get("SNAPSHOT"))
    parser.add_argument("--tag", default=os.environ.get("TAG"))
    parser.set_defaults(handler=run_manifests)
    parser = subparsers.add_parser("deploy", help="the staged deploy (kubectl or oc)")
    _common(parser)
    parser.add_argument("--stage", default=os.environ.get("STAGE") or "all")
    parser.add_argument("--timeout", help="seconds to wait for a stage (default: $TIMEOUT or 1800)")
    parser.set_defaults(handler=run_deploy)
    parser = subparsers.add_parser("deploy-check", help="smoke checks in openstackclient")
    _common(parser)
    parser.set_defaults(handler=run_check)
    parser = subparsers.add_parser(
        "update-crds", help="CRD schemas from openstack-operator, application-api, image-controller"
    )
    parser.add_argument("--openstack-operator", default=os.environ.get("OPENSTACK_OPERATOR"))
    parser.add_argument("--application-api", default=os.environ.get("APPLICATION_API"))
    parser.add_argument("--image-controller", default=os.environ.get("IMAGE_CONTROLLER"))
    parser.set_defaults(handler=run_update_crds)
