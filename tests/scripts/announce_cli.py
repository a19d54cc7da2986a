"""Test helper: run the `amanat` command with one function announced and slowed down, so a test
can SIGKILL the process at a known point (tests/test_faults.py).

    announce_cli.py MODULE:ATTRIBUTE[.METHOD] SECONDS amanat-arguments...

Before each call of the target, "CALL <n>" is written to stderr (flushed), then the process
sleeps SECONDS. The patch lives only in this throw-away process; no production code reads it.
Everything else is the real `amanat` entry point (app.cli.main).
"""

from __future__ import annotations

import functools
import importlib
import sys
import time


def _patch(target: str, seconds: float) -> None:
    module_name, _, attribute = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    calls = 0

    @functools.wraps(real)
    def announced(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        sys.stderr.write(f"CALL {calls}\n")
        sys.stderr.flush()
        if seconds:
            time.sleep(seconds)
        return real(*args, **kwargs)

    setattr(owner, name, announced)


if __name__ == "__main__":
    _patch(sys.argv[1], float(sys.argv[2]))
    from app.cli import main

    main(sys.argv[3:])
