"""The run context: config, TCIB location and repository paths, passed instead of globals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tcibsrc.config import DEFAULT_CONFIG_FILE, Config, load_config

DEFAULT_TCIB_DIR = Path("tcib/container-images")


@dataclass
class Context:
    """Where everything is; loads the config and TCIB once, on first use."""

    repo_root: Path
    config_file: Path
    tcib_dir: Path

    @classmethod
    def from_environment(
        cls,
        repo_root: Path | None = None,
        config_file: str | None = None,
        tcib_dir: str | None = None,
    ) -> Context:
        """Explicit arguments win, then CONFIG / TCIB_DIR from the environment, then defaults."""
        root = (repo_root or Path.cwd()).resolve()
        config = Path(config_file or os.environ.get("CONFIG") or DEFAULT_CONFIG_FILE)
        tcib = Path(tcib_dir or os.environ.get("TCIB_DIR") or DEFAULT_TCIB_DIR)
        return cls(
            repo_root=root,
            config_file=config if config.is_absolute() else root / config,
            tcib_dir=tcib if tcib.is_absolute() else root / tcib,
        )

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_file)

    def display(self, path: Path) -> str:
        """A path as the user should read it: relative to the repository when inside it."""
        return os.path.relpath(path.resolve(), self.repo_root)
