"""Ask a container registry for the digest of a tag, with skopeo and a timeout.

`make update-bundles` pins task bundles and `make deploy-manifests TAG=` pins the built images
by digest; both ask here, so a registry that hangs costs at most TIMEOUT seconds a reference.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

TIMEOUT = 120


@dataclass(frozen=True)
class Lookup:
    """A digest, or why there is none (skopeo missing, its last line, a timeout)."""

    digest: str | None
    problem: str | None = None


def digest_of(reference: str, timeout: float = TIMEOUT) -> Lookup:
    """The manifest digest `reference` (`repository:tag`) points at, asked of its registry."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        return Lookup(None, "skopeo is not installed")
    try:
        result = subprocess.run(
            [skopeo, "inspect", "--no-tags", "--format", "{{.Digest}}", f"docker://{reference}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Lookup(None, f"skopeo inspect did not answer within {timeout:g} s")
    digest = result.stdout.strip()
    if result.returncode == 0 and digest.startswith("sha256:"):
        return Lookup(digest)
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return Lookup(None, f"skopeo inspect failed: {last}")
