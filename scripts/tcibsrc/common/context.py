"""The run context: config, TCIB location and repository paths, passed instead of globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tcibsrc.common.config import DEFAULT_CONFIG_FILE, Config, load_config

DEFAULT_TCIB_DIR = Path("tcib/container-images")


@dataclass
class Context:
    """Where everything is; loads the config and TCIB once, on first use.

    `given` keeps paths as the user wrote them (TCIB_DIR=../elsewhere, CONFIG=/abs/file), so
    messages name them that way instead of as a path relative to the repository.
    """

    repo_root: Path
    config_file: Path
    tcib_dir: Path
    given: dict[Path, str] = field(default_factory=dict)
    tcib_is_submodule: bool = False  # TCIB_DIR not given: the tcib submodule of the repository
    subset: str | None = None  # SCOPE=<name>: the run is narrowed to images.subsets.<name>
    # what a run computes once and several steps read (the catalog): not copied by replace()
    memo: dict[object, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_environment(
        cls,
        repo_root: Path | None = None,
        config_file: str | None = None,
        tcib_dir: str | None = None,
        subset: str | None = None,
    ) -> Context:
        """Explicit arguments win, then CONFIG / TCIB_DIR / SCOPE from the environment, then
        defaults."""
        root = (repo_root or Path.cwd()).resolve()
        config_text = config_file or os.environ.get("CONFIG") or DEFAULT_CONFIG_FILE
        tcib_text = tcib_dir or os.environ.get("TCIB_DIR") or str(DEFAULT_TCIB_DIR)
        config = Path(config_text)
        tcib = Path(tcib_text)
        config_path = config if config.is_absolute() else root / config
        tcib_path = tcib if tcib.is_absolute() else root / tcib
        return cls(
            repo_root=root,
            config_file=config_path,
            tcib_dir=tcib_path,
            tcib_is_submodule=not (tcib_dir or os.environ.get("TCIB_DIR")),
            subset=subset or os.environ.get("SCOPE") or None,
            given={
                Path(os.path.abspath(tcib_path)): tcib_text.rstrip("/") or "/",
                Path(os.path.abspath(config_path)): config_text,
            },
        )

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_file, self.display(self.config_file), self.subset)

    def display(self, path: Path) -> str:
        """A path as the user should read it.

        Inside the repository: relative to it. Under a path the user gave (TCIB_DIR, CONFIG):
        starting as they wrote it. Anywhere else: absolute, never a `../../..` chain.
        """
        absolute = Path(os.path.abspath(path))
        for base, text in sorted(self.given.items(), key=lambda item: -len(item[0].parts)):
            if absolute == base:
                return text
            if absolute.is_relative_to(base):
                return f"{text}/{absolute.relative_to(base)}"
        root = Path(os.path.abspath(self.repo_root))
        if absolute.is_relative_to(root):
            return str(absolute.relative_to(root)) or "."
        return str(absolute)
