"""The one reader of Containerfiles: dockerfile-parse's instructions, and what they name.

Every stage that reads a Containerfile (the checks, the trigger globs of the PipelineRuns, the
RPMs to lock, the local build) reads it through here, so the JSON form of COPY, continuation
lines and `--flags` are understood the same way everywhere.
"""

from __future__ import annotations

import io
import json
import shlex
from dataclasses import dataclass
from functools import cached_property

from dockerfile_parse import DockerfileParser

SOURCE_COPIES = ("COPY", "ADD")  # the instructions that bring files from the build context


@dataclass(frozen=True)
class Instruction:
    """One instruction: its name (upper case), its value with continuations joined, and the
    1-based lines it spans."""

    name: str
    value: str
    line: int
    end_line: int

    @cached_property
    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`--key=value` flags before the arguments, and the arguments (JSON form included)."""
        text = self.value.strip()
        flags: dict[str, str] = {}
        words = _split(text)
        while words and words[0].startswith("--"):
            key, _, flag_value = words.pop(0)[2:].partition("=")
            flags.setdefault(key, flag_value)
        if len(words) == 1 and words[0].startswith("["):
            words = _json_words(words[0]) or words
        elif text.startswith("["):
            words = _json_words(text) or words
        return flags, words


@dataclass(frozen=True)
class FromLine:
    """A FROM instruction: the image reference and the stage name it opens, if any."""

    instruction: Instruction
    reference: str
    stage: str | None

    @property
    def repository(self) -> str:
        """The reference without its digest (`repo@sha256:...` -> `repo`)."""
        return self.reference.split("@", 1)[0]

    @property
    def image(self) -> str:
        """The reference without tag or digest: `h:5000/a/b:tag@sha256:...` -> `h:5000/a/b`."""
        path, _, name = self.repository.rpartition("/")
        name = name.split(":", 1)[0]
        return f"{path}/{name}" if path else name

    @property
    def digest(self) -> str | None:
        return self.reference.split("@", 1)[1] if "@" in self.reference else None


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:  # an unbalanced quote: the words as written
        return text.split()


def _json_words(text: str) -> list[str] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return [str(item) for item in value] if isinstance(value, list) else None


def instructions(text: str) -> list[Instruction]:
    """Every instruction of a Containerfile, comments left out, in order."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    return [
        Instruction(item["instruction"], item["value"], item["startline"] + 1, item["endline"] + 1)
        for item in parser.structure
        if item["instruction"] != "COMMENT"
    ]


def from_lines(text: str) -> list[FromLine]:
    """The FROM instructions, with their references and stage names."""
    found = []
    for instruction in instructions(text):
        if instruction.name != "FROM":
            continue
        words = instruction.value.split()
        flags = [word for word in words if word.startswith("--")]
        words = [word for word in words if word not in flags]
        stage = words[2] if len(words) == 3 and words[1].lower() == "as" else None
        found.append(FromLine(instruction, words[0] if words else "", stage))
    return found


def context_sources(text: str) -> list[str]:
    """What COPY and ADD take from the build context: not from a stage, not from a URL."""
    sources: list[str] = []
    for instruction in instructions(text):
        if instruction.name not in SOURCE_COPIES:
            continue
        flags, words = instruction.flags_and_words
        if "from" in flags:
            continue
        sources += [word for word in words[:-1] if "://" not in word]
    return sources


def run_commands(text: str) -> list[str]:
    """The shell text of every RUN, continuation lines joined (its `--mount` flags kept)."""
    return [instruction.value for instruction in instructions(text) if instruction.name == "RUN"]
