"""Every benchmark, in the order `all` runs them. Add new modules here."""

from __future__ import annotations

from bench.audit import Audit
from bench.backup import Backup
from bench.base import Benchmark
from bench.crypto import Crypto
from bench.duplicates import Duplicates
from bench.load import Load
from bench.pages import Pages
from bench.scale import Scale
from bench.signin import SignIn

BENCHMARKS: dict[str, type[Benchmark]] = {cls.name: cls for cls in (SignIn, Pages, Duplicates,
                                                               Backup, Crypto, Load, Audit,
                                                               Scale)}
