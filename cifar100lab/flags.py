"""Argparse ``type=`` checks the commands' flags share: a number out of range is argparse's own error (usage and
one ``error:`` line, exit status 2) before the command does any work."""
from __future__ import annotations

import argparse


def whole_number(least: int):
    """A flag's type: an integer of at least ``least`` (a size, a count, a number of steps)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {least}, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value
    return parse
