"""Every benchmark, in the order `all` runs them. Add new modules here."""

from __future__ import annotations

from bench.backup import Backup
from bench.base import Benchmark
from bench.duplicates import Duplicates
from bench.pages import Pages
from bench.signin import SignIn

BENCHMARKS: dict[str, type[Benchmark]] = {cls.name: cls for cls in (SignIn, Pages, Duplicates,
                                                               Backup)}
