"""Argument types the commands share: a bad value is argparse's one usage line, not a crash."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """--jobs 4: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value
