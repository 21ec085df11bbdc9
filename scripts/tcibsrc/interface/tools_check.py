"""The system tools a task needs, checked in a second before it starts.

`make test` builds and signs RPMs, indexes and resolves them with dnf, draws the graph with
graphviz and proves offline builds in a network namespace. Without those tools the suite used
to fail after minutes with tracebacks; this check names every missing tool and the command that
installs it, on Debian/Ubuntu and on Fedora/CentOS. Standard library only: it runs before the
virtualenv exists (`python3 -m tcibsrc.interface.tools_check test`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

DEBIAN_PYTHON = "/usr/bin/python3"  # dnf's bindings load only in the distribution's python3


@dataclass(frozen=True)
class Tool:
    """A command (or a module of the system python3) and the packages that provide it."""

    command: str
    debian: str
    fedora: str
    why: str
    python_module: str | None = None  # checked with DEBIAN_PYTHON instead of the PATH
    static: bool = False  # copied into an empty image, it must not need a dynamic loader

    def present(self) -> bool:
        if self.python_module is None:
            found = shutil.which(self.command)
            return found is not None and (not self.static or statically_linked(found))
        if not shutil.which(DEBIAN_PYTHON):
            return False
        result = subprocess.run(
            [DEBIAN_PYTHON, "-c", f"import {self.python_module}"],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0


def statically_linked(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP program header (no dynamic loader)."""
    with open(path, "rb") as binary:
        data = binary.read(1 << 16)
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only
        return False
    order = "little" if data[5] == 1 else "big"
    offset = int.from_bytes(data[32:40], order)
    size, count = int.from_bytes(data[54:56], order), int.from_bytes(data[56:58], order)
    for index in range(count):
        start = offset + index * size
        if int.from_bytes(data[start : start + 4], order) == 3:  # PT_INTERP
            return False
    return True


TEST_TOOLS = (
    Tool("rpmbuild", "rpm", "rpm-build", "the tests build RPMs"),
    Tool("createrepo_c", "createrepo-c", "createrepo_c", "the tests index an RPM repository"),
    Tool("gpg", "gnupg", "gnupg2", "the tests sign RPMs and repositories"),
    Tool(
        "python3 -c 'import dnf'",
        "python3-dnf",
        "python3-dnf",
        "the tests resolve RPMs with dnf's Python API",
        python_module="dnf",
    ),
    Tool("dot", "graphviz", "graphviz", "make graph draws the SVG"),
    Tool("unshare", "util-linux", "util-linux", "offline builds run in a network namespace"),
    Tool("gcc", "gcc", "gcc", "sdists with C sources are built"),
    Tool("cargo", "cargo", "cargo", "Rust sdists are built with vendored crates"),
    Tool("rustc", "rustc", "rust", "Rust sdists are built with vendored crates"),
    Tool("git", "git", "git", "make affected reads commit ranges"),
    Tool("memcached", "memcached", "memcached", "verify-runtime starts services against it"),
    Tool("ip", "iproute2", "iproute", "verify-runtime brings loopback up in its namespace"),
    Tool("mariadbd", "mariadb-server", "mariadb-server", "verify-runtime's services use MariaDB"),
    Tool(
        "rabbitmq-server",
        "rabbitmq-server",
        "rabbitmq-server",
        "verify-runtime's RPC goes through it",
    ),
    Tool("buildah", "buildah", "buildah", "make build is tested with the real engine"),
    Tool(
        "busybox",
        "busybox-static",
        "busybox",
        "the stand-in images of those tests have its shell (statically linked)",
        static=True,
    ),
)
# what every verify-runtime run needs; the services an image's scenario starts (memcached, OVN's
# databases) are checked by verify-runtime itself, for that image only
RUNTIME_TOOLS = (
    Tool("unshare", "util-linux", "util-linux", "the checks run in a network namespace"),
    Tool("ip", "iproute2", "iproute", "loopback is brought up in that namespace"),
)
TASKS = {"test": TEST_TOOLS, "verify-runtime": RUNTIME_TOOLS}


def missing(tools: tuple[Tool, ...]) -> list[Tool]:
    return [tool for tool in tools if not tool.present()]


def install_hint(tools: list[Tool]) -> str:
    debian = " ".join(dict.fromkeys(tool.debian for tool in tools))
    fedora = " ".join(dict.fromkeys(tool.fedora for tool in tools))
    return (
        f"  Debian/Ubuntu:  sudo apt-get install {debian}\n"
        f"  Fedora/CentOS:  sudo dnf install {fedora}"
    )


def report(task: str, absent: list[Tool]) -> str:
    lines = [f"make {task} needs system tools that are not installed:"]
    lines += [f"  {tool.command:<24} {tool.why}" for tool in absent]
    lines += ["Install them with:", install_hint(absent)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "test"
    if task not in TASKS:
        print(f"error: unknown task {task!r} (known: {', '.join(TASKS)})", file=sys.stderr)
        return 2
    absent = missing(TASKS[task])
    if absent:
        print(report(task, absent), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
