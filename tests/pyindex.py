"""A real PEP 503 / PEP 691 package index on 127.0.0.1, serving sdists that the tests build.

The sdists use a small in-tree PEP 517 backend written here, so they build offline with no
other package: pip and uv can resolve them, read their metadata, and build wheels from them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import textwrap
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name

BACKEND = textwrap.dedent('''
    """PEP 517 backend of the test sdists: a pure-Python wheel from PKG-INFO and the package."""
    import base64, hashlib, importlib, os, zipfile
    from pathlib import Path

    def _info():
        if not Path("PKG-INFO").exists():
            # a tree from git, like a pbr project: its name in a file, its version from
            # PBR_VERSION (no git history to count from)
            if "PBR_VERSION" not in os.environ:
                raise RuntimeError("pbr: no PKG-INFO, no git history and no PBR_VERSION")
            return Path("NAME").read_text().strip(), os.environ["PBR_VERSION"]
        fields = {}
        for line in Path("PKG-INFO").read_text().splitlines():
            key, _, value = line.partition(": ")
            fields.setdefault(key, value)
        return fields["Name"], fields["Version"]

    def _metadata_text(name, version):
        """PKG-INFO, or for a tree from git its name and version; requires.txt adds its
        dependencies (as pbr reads requirements.txt)."""
        text = (Path("PKG-INFO").read_text() if Path("PKG-INFO").exists()
                else f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n")
        requires = Path("requires.txt")
        if requires.exists():
            text += "".join(f"Requires-Dist: {line}\\n" for line in requires.read_text().split())
        return text

    def _dist(name, version):
        return name.replace("-", "_").replace(".", "_") + "-" + version

    def _pure():
        """Like dulwich's PURE: this switch in the environment drops the optional Rust part."""
        switch = Path("pure_switch.txt")
        return switch.exists() and switch.read_text().strip() in os.environ

    def get_requires_for_build_wheel(config_settings=None):
        path = Path("dynamic_requires.txt")
        return path.read_text().split() if path.exists() and not _pure() else []

    def _metadata_files(name, version):
        files = {"METADATA": _metadata_text(name, version),
                 "WHEEL": "Wheel-Version: 1.0\\nGenerator: fixture\\nRoot-Is-Purelib: true\\n"
                          "Tag: py3-none-any\\n"}
        if Path("entry_points.txt").exists():
            files["entry_points.txt"] = Path("entry_points.txt").read_text()
        return files

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        failure = Path("metadata_error.txt")
        if failure.exists():
            for number in range(40):  # a chatty build step, like setup.py's own logging
                print(f"running step {number} of the metadata build")
            raise RuntimeError(failure.read_text())
        name, version = _info()
        target = Path(metadata_directory) / (_dist(name, version) + ".dist-info")
        target.mkdir(parents=True)
        for file_name, text in _metadata_files(name, version).items():
            (target / file_name).write_text(text)
        return target.name

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        wanted = Path("build_environment.txt")
        for line in (wanted.read_text().split() if wanted.exists() else []):
            key, _, value = line.partition("=")
            if os.environ.get(key) != value:  # like Cython's NO_CYTHON_COMPILE switch
                raise RuntimeError(f"this build needs {key}={value} in its environment")
        imports = Path("build_imports.txt")
        for module in (imports.read_text().split() if imports.exists() else []):
            importlib.import_module(module)  # proves the build requirement was installed
        crates = Path("crates.txt")
        for crate in (crates.read_text().split() if crates.exists() and not _pure() else []):
            # like cargo with hermeto's vendoring: crates come from CARGO_HOME, never the network
            vendored = Path(os.environ.get("CARGO_HOME", "/nonexistent")) / "vendor" / crate
            if not (vendored / "Cargo.toml").is_file():
                raise RuntimeError(f"crate {crate} is not vendored in CARGO_HOME ({vendored})")
        name, version = _info()
        dist = _dist(name, version)
        files = {}
        for path in sorted(Path("src").rglob("*.py")):
            files[str(path.relative_to("src"))] = path.read_bytes()
        for file_name, text in _metadata_files(name, version).items():
            files[f"{dist}.dist-info/{file_name}"] = text.encode()
        record = []
        for arcname, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        files[f"{dist}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
        wheel_name = f"{dist}-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w") as archive:
            for arcname, data in files.items():
                info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
                archive.writestr(info, data)
        return wheel_name
''')


@dataclass
class Package:
    """One sdist to build: name, version, dependencies and build requirements."""

    name: str
    version: str
    requires: list[str] = field(default_factory=list)
    build_requires: list[str] = field(default_factory=list)
    dynamic_requires: list[str] = field(default_factory=list)
    build_imports: list[str] = field(default_factory=list)
    extra_modules: list[str] = field(default_factory=list)
    crates: list[str] = field(default_factory=list)  # read from $CARGO_HOME/vendor at build
    build_environment: dict[str, str] = field(default_factory=dict)  # its build needs these set
    metadata_error: str | None = None  # its metadata build fails with this message
    files: dict[str, str] = field(default_factory=dict)  # more modules: path under src/ -> text
    entry_points: dict[str, dict[str, str]] = field(default_factory=dict)  # group -> name -> value
    top_files: dict[str, str] = field(default_factory=dict)  # beside pyproject.toml (setup.py)
    pure_switch: str | None = None  # set in the environment: no dynamic requires, no crates

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def filename(self) -> str:
        return f"{self.module}-{self.version}.tar.gz"


def _add(archive: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1577836800
    archive.addfile(info, io.BytesIO(data))


def build_sdist(package: Package, directory: Path) -> Path:
    """Write `package` as an sdist into `directory`; deterministic bytes."""
    top = f"{package.module}-{package.version}"
    pkg_info = [
        "Metadata-Version: 2.2",
        f"Name: {package.name}",
        f"Version: {package.version}",
        "Requires-Python: >=3.8",
        *[f"Requires-Dist: {item}" for item in package.requires],
    ]
    requires = ", ".join(json.dumps(item) for item in package.build_requires)
    pyproject = (
        f"[build-system]\nrequires = [{requires}]\n"
        'build-backend = "fixture_backend"\nbackend-path = ["."]\n'
    )
    path = directory / package.filename
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        _add(archive, f"{top}/PKG-INFO", "\n".join(pkg_info) + "\n")
        _add(archive, f"{top}/pyproject.toml", pyproject)
        _add(archive, f"{top}/fixture_backend.py", BACKEND)
        _add(
            archive,
            f"{top}/src/{package.module}/__init__.py",
            f'__version__ = "{package.version}"\n',
        )
        for extra in package.extra_modules:
            _add(archive, f"{top}/src/{package.module}/{extra}.py", "")
        for relative, text in package.files.items():
            _add(archive, f"{top}/src/{relative}", text)
        if package.entry_points:
            sections = [
                f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
                for group, points in package.entry_points.items()
            ]
            _add(archive, f"{top}/entry_points.txt", "\n".join(sections))
        if package.dynamic_requires:
            _add(archive, f"{top}/dynamic_requires.txt", "\n".join(package.dynamic_requires))
        if package.build_imports:
            _add(archive, f"{top}/build_imports.txt", "\n".join(package.build_imports))
        if package.metadata_error:
            _add(archive, f"{top}/metadata_error.txt", package.metadata_error)
        if package.crates:
            _add(archive, f"{top}/crates.txt", "\n".join(package.crates))
        if package.build_environment:
            lines = [f"{key}={value}" for key, value in package.build_environment.items()]
            _add(archive, f"{top}/build_environment.txt", "\n".join(lines))
        for relative, text in package.top_files.items():
            _add(archive, f"{top}/{relative}", text)
        if package.pure_switch:
            _add(archive, f"{top}/pure_switch.txt", package.pure_switch)
    # gzip headers carry a timestamp; zero it so equal inputs give equal bytes
    data = bytearray(buffer.getvalue())
    data[4:8] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    return path


UPLOADED = "2026-01-01T00:00:00.000000Z"  # every file's upload time unless a test sets one


class PackageIndex:
    """Serves `files/` as a Simple API index on 127.0.0.1 (HTML, or JSON when asked)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files_dir = root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.listed_hash_overrides: dict[str, str] = {}
        self.requests: list[str] = []
        self.serve_json = True  # False: a PEP 503 index that only speaks HTML
        self.accept_headers: list[str] = []
        self.refusing = False  # True: every request fails (503), as if the index were gone
        # file name -> how many more downloads of it fail with 503 (-1: every one)
        self.failing_files: dict[str, int] = {}
        # PEP 700 upload times (JSON pages): file name -> RFC 3339; the rest: UPLOADED
        self.upload_times: dict[str, str] = {}
        self.yanked: dict[str, str] = {}  # file name -> the reason it was yanked
        self.ranges = True  # honour Range requests (False: the whole file, as some servers do)
        self.bytes_sent: dict[str, int] = {}  # file name -> bytes of it sent, all requests
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple"

    def add(self, *packages: Package) -> None:
        for package in packages:
            build_sdist(package, self.files_dir)

    def add_file(self, filename: str, data: bytes) -> None:
        (self.files_dir / filename).write_bytes(data)

    def reset(self, *packages: Package) -> None:
        """Serve exactly `packages` again, and forget what earlier tests asked or set."""
        for path in self.files_dir.iterdir():
            path.unlink()
        self.add(*packages)
        self.listed_hash_overrides.clear()
        self.requests.clear()
        self.accept_headers.clear()
        self.serve_json = True
        self.refusing = False
        self.failing_files.clear()
        self.upload_times.clear()
        self.yanked.clear()
        self.ranges = True
        self.bytes_sent.clear()

    def start(self) -> PackageIndex:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _projects(self) -> dict[str, list[Path]]:
        projects: dict[str, list[Path]] = {}
        for path in sorted(self.files_dir.iterdir()):
            stem = path.name.removesuffix(".tar.gz").removesuffix(".whl")
            project = canonicalize_name(stem.split("-")[0])
            projects.setdefault(project, []).append(path)
        return projects

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                index.requests.append(self.path)
                if index.refusing:
                    self._send(503, b"refusing", "text/plain")
                    return
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                if parts[:1] == ["files"] and len(parts) == 2:
                    left = index.failing_files.get(parts[1], 0)
                    if left:
                        index.failing_files[parts[1]] = left - 1 if left > 0 else left
                        self._send(503, b"try again", "text/plain")
                        return
                    path = index.files_dir / parts[1]
                    if path.is_file():
                        self._file(path)
                        return
                if parts[:1] == ["simple"] and len(parts) == 2:
                    files = index._projects().get(canonicalize_name(parts[1]))
                    if files:
                        self._project_page(parts[1], files)
                        return
                self._send(404, b"not found", "text/plain")

            def _file(self, path: Path) -> None:
                data = path.read_bytes()
                asked = self.headers.get("Range", "")
                if not (index.ranges and asked.startswith("bytes=")):
                    index.bytes_sent[path.name] = index.bytes_sent.get(path.name, 0) + len(data)
                    self._send(200, data, "application/octet-stream")
                    return
                first_text, last_text = asked.removeprefix("bytes=").split("-")
                if not first_text:  # the last N bytes
                    first, last = max(0, len(data) - int(last_text)), len(data) - 1
                else:
                    first = int(first_text)
                    last = min(len(data) - 1, int(last_text)) if last_text else len(data) - 1
                part = data[first : last + 1]
                index.bytes_sent[path.name] = index.bytes_sent.get(path.name, 0) + len(part)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part)

            def _project_page(self, name: str, files: list[Path]) -> None:
                entries = []
                for path in files:
                    digest = index.listed_hash_overrides.get(
                        path.name, hashlib.sha256(path.read_bytes()).hexdigest()
                    )
                    entries.append((path.name, f"../../files/{path.name}", digest))
                accept = self.headers.get("Accept", "")
                index.accept_headers.append(accept)
                if index.serve_json and "application/vnd.pypi.simple.v1+json" in accept:
                    payload = {
                        "meta": {"api-version": "1.1"},
                        "name": name,
                        "files": [
                            {
                                "filename": f,
                                "url": u,
                                "hashes": {"sha256": d},
                                "upload-time": index.upload_times.get(f, UPLOADED),
                                **({"yanked": index.yanked[f]} if f in index.yanked else {}),
                            }
                            for f, u, d in entries
                        ],
                    }
                    self._send(
                        200, json.dumps(payload).encode(), "application/vnd.pypi.simple.v1+json"
                    )
                    return
                links = "".join(
                    f'<a href="{u}#sha256={d}"'
                    + (f' data-yanked="{index.yanked[f]}"' if f in index.yanked else "")
                    + f">{f}</a><br/>\n"
                    for f, u, d in entries
                )
                html = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n"
                self._send(200, html.encode(), "text/html")

        return Handler
