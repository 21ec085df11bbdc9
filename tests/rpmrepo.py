"""A real, signed RPM repository on 127.0.0.1 for the tests: rpmbuild, gpg, createrepo_c.

Packages are built from specs the tests write (files only, so any --target works), signed with
a key generated per session, split into one repository per arch (noarch goes to both), indexed
with createrepo_c and served over HTTP on loopback.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ARCHES = ("x86_64", "aarch64")
DNF_PYTHON = "/usr/bin/python3"  # Debian's python3-dnf loads only in the system interpreter


@dataclass
class Rpm:
    name: str
    version: str = "1.0"
    arch: str = "noarch"  # or "per-arch": one build for each of ARCHES
    requires: list[str] = field(default_factory=list)


def _spec(rpm: Rpm) -> str:
    lines = [
        "%global debug_package %{nil}",
        "%global __os_install_post %{nil}",
        f"Name: {rpm.name}",
        f"Version: {rpm.version}",
        "Release: 1",
        f"Summary: test package {rpm.name}",
        "License: MIT",
        *(["BuildArch: noarch"] if rpm.arch == "noarch" else []),
        *[f"Requires: {item}" for item in rpm.requires],
        "",
        "%description",
        "Test package.",
        "",
        "%install",
        f"mkdir -p %{{buildroot}}/usr/share/{rpm.name}",
        f"echo {rpm.name} > %{{buildroot}}/usr/share/{rpm.name}/marker",
        "",
        "%files",
        f"/usr/share/{rpm.name}/marker",
    ]
    return "\n".join(lines) + "\n"


class SigningKey:
    """A GPG key made for the session; its public part is what dnf imports."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.uid = "tcibsrc test signing key <signing@example.invalid>"
        subprocess.run(
            [
                "gpg",
                "--homedir",
                str(home),
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                self.uid,
                "rsa2048",
                "sign",
                "never",
            ],
            check=True,
            capture_output=True,
        )
        self.public = home / "RPM-GPG-KEY-test"
        exported = subprocess.run(
            ["gpg", "--homedir", str(home), "--armor", "--export", self.uid],
            check=True,
            capture_output=True,
        )
        self.public.write_bytes(exported.stdout)

    def sign(self, paths: list[Path]) -> None:
        subprocess.run(
            [
                "rpmsign",
                "--addsign",
                "--define",
                "__gpg /usr/bin/gpg",
                "--define",
                f"_gpg_name {self.uid}",
                "--define",
                f"_gpg_path {self.home}",
                *map(str, paths),
            ],
            check=True,
            capture_output=True,
        )


def build_rpms(rpms: list[Rpm], workdir: Path) -> list[Path]:
    """Build every package (per-arch ones once per arch) and return the .rpm files."""
    top = workdir / "rpmbuild"
    built: list[Path] = []
    for rpm in rpms:
        spec = top / "SPECS" / f"{rpm.name}.spec"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(_spec(rpm))
        targets = ARCHES if rpm.arch == "per-arch" else (None,)
        for target in targets:
            command = ["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)]
            if target:
                command[1:1] = ["--target", target]
            subprocess.run(command, check=True, capture_output=True)
    built = sorted((top / "RPMS").rglob("*.rpm"))
    return built


class RpmRepository:
    """Per-arch repositories under one HTTP root: http://127.0.0.1:PORT/$basearch/."""

    def __init__(self, root: Path, rpms: list[Path], key: SigningKey) -> None:
        self.root = root
        key.sign(rpms)
        for arch in ARCHES:
            target = root / arch
            target.mkdir(parents=True, exist_ok=True)
            for path in rpms:
                if path.parent.name in ("noarch", arch):
                    (target / path.name).write_bytes(path.read_bytes())
            subprocess.run(
                ["createrepo_c", "--quiet", str(target)], check=True, capture_output=True
            )
        handler = partial(_QuietHandler, directory=str(root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def baseurl(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/$basearch/"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
