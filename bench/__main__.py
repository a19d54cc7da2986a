"""`python -m bench [BENCHMARK ...] [--db sqlite|postgres|both]`: seed, measure, print a table.

Run through `make bench ARGS="..."`. BENCHMARK is one of the names in bench.registry or `all`
(the default). Machine-readable results go to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from typing import Any

from bench import machine
from bench.base import Benchmark
from bench.harness import DEFAULT_PG_URL, OUT, Context, Instance, install_cleanup, stop_all_servers
from bench.registry import BENCHMARKS
from bench.report import table


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Amanat benchmarks.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("benchmarks", nargs="*", default=["all"], metavar="BENCHMARK",
                        help=f"any of: all, {', '.join(BENCHMARKS)}")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both",
                        help="database(s) to run on")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="PostgreSQL database to use; its schema public is DROPPED")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    for cls in BENCHMARKS.values():
        cls.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [name for name in args.benchmarks if name != "all" and name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from all, "
                     f"{', '.join(BENCHMARKS)}")
    if "all" in args.benchmarks:
        args.benchmarks = list(BENCHMARKS)
    return args


def run_database(kind: str, args: argparse.Namespace,
                 results: dict[str, list[dict[str, Any]]], failures: list[str]) -> None:
    benchmarks: list[Benchmark] = [BENCHMARKS[name](args) for name in args.benchmarks]

    def server_env() -> dict[str, str]:
        env: dict[str, str] = {}
        for bench in benchmarks:
            env.update(bench.server_env())
        return env

    conditions = results.setdefault("conditions", [])
    conditions.append({"db": kind, "event": "start", "load average": machine.load_average()})
    instance = Instance(kind, args.pg_url)
    ctx = Context(instance, args, server_env)
    try:
        instance.create()
        for bench in benchmarks:  # all seeding happens before gunicorn starts
            bench.prepare(ctx)
        for bench in benchmarks:
            try:
                rows = bench.run(ctx)
            except Exception as error:  # noqa: BLE001 - report and go on with the next one
                traceback.print_exc()
                failures.append(f"{bench.name} on {kind}: {error}")
                continue
            results.setdefault(bench.name, []).extend({"db": kind, **row} for row in rows)
            results.setdefault(f"{bench.name}:notes", []).extend(
                {"note": note} for note in bench.notes()
                if {"note": note} not in results.get(f"{bench.name}:notes", []))
    finally:
        ctx.close()
        conditions.append({"db": kind, "event": "end", "load average": machine.load_average()})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    install_cleanup()
    info = machine.info()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print("Amanat benchmarks")
    for key, value in info.items():
        print(f"  {key:<9} {value}")
    print(f"  command   python -m bench {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(flush=True)

    results: dict[str, list[dict[str, Any]]] = {}
    failures: list[str] = []
    started = time.monotonic()
    try:
        for kind in kinds:
            try:
                run_database(kind, args, results, failures)
            except Exception as error:  # noqa: BLE001 - the other database may still work
                traceback.print_exc()
                failures.append(f"{kind}: {error}")
    except (KeyboardInterrupt, SystemExit) as stop:
        stop_all_servers()
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130 if isinstance(stop, KeyboardInterrupt) else int(stop.code or 1)
    finally:
        stop_all_servers()

    for name in args.benchmarks:
        cls = BENCHMARKS[name]
        rows = results.get(name, [])
        print(f"\n{cls.title}")
        if rows:
            headers = ("db", *cls.columns)
            print(table(headers, [[row.get(h, "") for h in headers] for row in rows]))
        else:
            print("  (no results)")
        for note in results.get(f"{name}:notes", []):
            print(f"  * {note['note']}")
    conditions = results.get("conditions", [])
    if conditions:
        print("\nLoad average (1, 5, 15 min) around each database's run. The first 'start' "
              "shows other work on the machine\n(above ~0.5: the figures are skewed); 'end' "
              "includes the benchmark's own load:")
        for row in conditions:
            print(f"  {row['db']:<9} {row['event']:<6} {row['load average']}")
    print(f"\nTotal time {time.monotonic() - started:.0f} s.")

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "results.json", "w", encoding="utf-8") as handle:
        json.dump({"machine": info, "argv": sys.argv[1:] if argv is None else argv,
                   "results": results, "failures": failures}, handle, indent=2, default=str)
    if failures:
        print("\nFAILED:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
