"""The interface every benchmark module implements; add new ones to bench.registry."""

from __future__ import annotations

import argparse
from typing import Any, ClassVar

from bench.harness import Context


class Benchmark:
    """One figure. `prepare` seeds (before any server starts); `run` measures and returns rows.

    Rows are dicts keyed by `columns`; the harness adds the database column and prints one
    table per benchmark across databases.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Options of this benchmark (all benchmarks share one parser; prefix names)."""

    def server_env(self) -> dict[str, str]:
        """Extra AMANAT_* settings gunicorn needs for this benchmark (stated in the notes)."""
        return {}

    def prepare(self, ctx: Context) -> None:
        """Seed what `run` needs, in this process, through the services."""

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        raise NotImplementedError

    def notes(self) -> list[str]:
        """Lines printed under the table: method, settings changed, caveats."""
        return []
