"""Test helper, launched only by tests/test_backup_restore.py: run `amanat backup PATH` or
`amanat restore PATH` slowed down, so the test can SIGKILL it part-way.

The slowing is a monkeypatch applied here, in this throw-away process, from the
AMANAT_TEST_SLOW_SECONDS environment variable; no production code reads that variable.
"""

from __future__ import annotations

import os
import sys
import time

from app.backup import archive, restore
from app.cli import main

DELAY = float(os.environ.get("AMANAT_TEST_SLOW_SECONDS", "0.05"))


def _slow_backup() -> None:
    real = archive._MacWriter.write

    def write(self, data):  # type: ignore[no-untyped-def]
        time.sleep(DELAY)
        return real(self, data)

    archive._MacWriter.write = write  # type: ignore[method-assign]


def _slow_restore() -> None:
    real = restore._TableLoader.finish

    def finish(self):  # type: ignore[no-untyped-def]
        time.sleep(DELAY * 10)
        return real(self)

    restore._TableLoader.finish = finish  # type: ignore[method-assign]


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "backup":
        _slow_backup()
        main(["backup", path])
    else:
        _slow_restore()
        main(["restore", path])
