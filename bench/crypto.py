"""Issue 3: the cost of encryption. `python -m bench crypto [--db sqlite|postgres|both]`.

(a) FieldCipher encrypt + decrypt of one record with 10 encrypted fields of realistic sizes, warm
    key cache, in this process: microseconds per record.
(b) The share of a request spent in encryption and key handling: FieldCipher.encrypt_bytes /
    decrypt_bytes, KeyRing._entry (cache lookup, key-store read, unwrap), KeyRing.new_key (a
    person's key) and BlindIndexer.compute are wrapped with timers (in this process only, for
    the measurement) while the Flask test client creates cases + people and views case pages.
(c) `amanat keys rotate` (app.crypto.operations.begin_rotation + run_rotation) over 100,000
    encrypted values bulk-inserted as case notes with ciphertext made by FieldCipher.
(d) Evidence files: encrypt_stream / decrypt_stream of a 100 MB file, MB/s, tracemalloc and RSS
    peaks.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from bench.base import Benchmark
from bench.harness import Context, log
from bench.inproc import (
    TestClientUser,
    Timers,
    add_team,
    load_average,
    peak_rss_kib,
    reset_peak_rss,
    rss_kib,
)
from bench.seed import seed_users
from bench.stats import median, percentile

# Ten encrypted fields of one person + case, with sizes typical of the demo data and intake forms.
RECORD_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("people", "full_name", 22), ("people", "father_name", 16), ("people", "tribe", 8),
    ("people", "date_of_birth", 10), ("people", "cnic", 15), ("people", "phone", 13),
    ("people", "address", 90), ("people", "physical_description", 300),
    ("cases", "title", 60), ("cases", "summary", 1200),
)
MB = 1_000_000


def _text(size: int, rng: random.Random) -> str:
    words = ("Baloch", "Quetta", "Kech", "taken", "night", "family", "police", "بشیر", "محمد",
             "report", "checkpoint", "van", "court", "hearing", "missing")
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def demo_cases(count: int, seed: int = 7, status: str = "open") -> list[dict[str, Any]]:
    """Fictional bundle cases from app.bundle.demo (3 people, acts, sources, testimony...)."""
    from app.bundle import demo

    return demo.bundle_cases(count, seed=seed, status=status, id_prefix="bench")


class Crypto(Benchmark):
    name = "crypto"
    title = "Encryption cost (issue 3)"
    columns = ("measure", "n", "value", "unit", "target", "verdict", "detail", "load avg")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--crypto-records", type=int, default=20_000, metavar="N",
                            help="records for the per-record micro-benchmark")
        parser.add_argument("--crypto-requests", type=int, default=150, metavar="N",
                            help="create (case + person) and view requests for the share")
        parser.add_argument("--crypto-rotate", type=int, default=100_000, metavar="N",
                            help="encrypted values to rotate")
        parser.add_argument("--crypto-file-mb", type=int, default=100, metavar="MB",
                            help="evidence file size")

    def prepare(self, ctx: Context) -> None:
        log(f"[{ctx.kind}] crypto: seeding 1 supervisor (team Bench) for the request share")
        self.person = seed_users(ctx.app, 1, "crypto", role="supervisor")[0]
        add_team(ctx.app, f"Crypto bench {uuid.uuid4().hex[:6]}", [self.person.id])

    def run(self, ctx: Context) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        rows += self.per_record(ctx)
        rows += self.request_share(ctx)
        rows += self.rotation(ctx)
        rows += self.files(ctx)
        return rows

    # (a) ----------------------------------------------------------------------------------------
    def per_record(self, ctx: Context) -> list[dict[str, Any]]:
        from app.crypto import runtime

        n = self.args.crypto_records
        rng = random.Random(3)  # noqa: S311
        values = [_text(size, rng) for _t, _c, size in RECORD_FIELDS]
        plain_bytes = sum(len(v.encode()) for v in values)
        with ctx.app.app_context():
            cipher = runtime.cipher()
            key_id = runtime.general_key_id()
            cipher.decrypt(cipher.encrypt("warm", key_id=key_id, table="t", column="c", row_id=1),
                           table="t", column="c", row_id=1)
            ids = [str(uuid.uuid4()) for _ in range(n)]
            log(f"[{ctx.kind}] crypto (a): {n} records x 10 fields, warm key cache")
            gc.collect()
            started = time.perf_counter()
            blobs = []
            for row_id in ids:
                blobs.append([cipher.encrypt(v, key_id=key_id, table=t, column=c, row_id=row_id)
                              for (t, c, _s), v in zip(RECORD_FIELDS, values, strict=True)])
            enc = time.perf_counter() - started
            started = time.perf_counter()
            for row_id, record in zip(ids, blobs, strict=True):
                for (t, c, _s), blob in zip(RECORD_FIELDS, record, strict=True):
                    cipher.decrypt(blob, table=t, column=c, row_id=row_id)
            dec = time.perf_counter() - started
        load = load_average()
        total_us = (enc + dec) / n * 1e6
        detail = f"{plain_bytes} B plaintext per record"
        return [
            {"measure": "(a) encrypt 10 fields", "n": n, "value": enc / n * 1e6, "unit": "µs/record",
             "target": "", "verdict": "", "detail": detail, "load avg": load},
            {"measure": "(a) decrypt 10 fields", "n": n, "value": dec / n * 1e6, "unit": "µs/record",
             "target": "", "verdict": "", "detail": detail, "load avg": load},
            {"measure": "(a) encrypt + decrypt", "n": n, "value": total_us, "unit": "µs/record",
             "target": "", "verdict": "", "detail": f"{total_us / 20:.1f} µs per field op",
             "load avg": load},
        ]

    # (b) ----------------------------------------------------------------------------------------
    def request_share(self, ctx: Context) -> list[dict[str, Any]]:
        from app.bundle.importer import import_bundle
        from app.crypto import runtime
        from app.crypto.blind_index import BlindIndexer
        from app.crypto.cipher import FieldCipher
        from app.crypto.keyring import KeyRing
        from app.extensions import db
        from app.models.users import User

        n = self.args.crypto_requests
        app = ctx.app
        user = TestClientUser(app, self.person)
        # Cases to view: complete fictional cases through the services (3 people each, acts,
        # sources, testimony, links, notes), owned by the signed-in supervisor.
        log(f"[{ctx.kind}] crypto (b): importing {n} complete cases to view")
        with app.app_context():
            actor = db.session.get(User, self.person.id)
            summary = import_bundle(actor, {"format": "amanat-bundle", "version": 1,
                                            "cases": demo_cases(n)}, source="bench")
            view_ids = [str(case_id) for _b, _r, case_id in summary.cases]
            db.session.remove()

        timers = Timers()
        timers.wrap(FieldCipher, "encrypt_bytes", "FieldCipher.encrypt")
        timers.wrap(FieldCipher, "decrypt_bytes", "FieldCipher.decrypt")
        timers.wrap(KeyRing, "_entry", "KeyRing key lookup/unwrap")
        timers.wrap(KeyRing, "new_key", "KeyRing.new_key")
        timers.wrap(BlindIndexer, "compute", "BlindIndexer.compute")
        rows: list[dict[str, Any]] = []
        rng = random.Random(5)  # noqa: S311
        with timers.active():
            for _ in range(5):  # warm-up: templates, forms
                user.get(f"/cases/{view_ids[0]}")
            # -- create: POST /cases/new then POST /cases/<id>/people/new (each timed alone)
            log(f"[{ctx.kind}] crypto (b): {n} x (create case + add person) over the test client")
            new_token = user.token("/cases/new")
            req_total = 0.0
            crypto_total = 0.0
            per_request: list[float] = []
            shares: list[float] = []
            timers.reset()
            for i in range(n):
                data = {"csrf_token": new_token, "title": f"Disappearance of {_text(30, rng)}",
                        "summary": _text(1200, rng), "date_received": "2025-03-01", "tags": "bench"}
                before = timers.outer
                started = time.perf_counter()
                response = user.client.post("/cases/new", data=data)
                spent = time.perf_counter() - started
                if response.status_code != 302:
                    raise RuntimeError(f"create case: {response.status_code}")
                case_path = response.headers["Location"]
                req_total += spent
                crypto_total += timers.outer - before
                per_request.append(spent)
                shares.append((timers.outer - before) / spent)
                token = user.token(f"{case_path}/people/new")
                person = {"csrf_token": token, "full_name": f"Bashir Ahmed {i}",
                          "father_name": "Ghulam Nabi", "tribe": "Baloch",
                          "date_of_birth": "1990", "cnic": "52203-1234567-1",
                          "phone": "+92 300 1234567", "address": _text(90, rng),
                          "physical_description": _text(300, rng),
                          "other_names": "Basheer Ahmed\nبشیر احمد", "sex": "male", "age": "30",
                          "counting_unit": "individual"}
                before = timers.outer
                started = time.perf_counter()
                response = user.client.post(f"{case_path}/people/new", data=person)
                spent = time.perf_counter() - started
                if response.status_code != 302:
                    raise RuntimeError(f"add person: {response.status_code} "
                                       f"{response.get_data(as_text=True)[:300]}")
                req_total += spent
                crypto_total += timers.outer - before
                per_request.append(spent)
                shares.append((timers.outer - before) / spent)
            create_breakdown = self._breakdown(timers, req_total)
            load = load_average()
            share = crypto_total / req_total
            rows.append({
                "measure": "(b) create: crypto share", "n": 2 * n, "value": 100 * share,
                "unit": "% of request", "target": "< 20 %",
                "verdict": "met" if share < 0.20 else "MISSED",
                "detail": f"median request {1000 * median(per_request):.1f} ms, crypto "
                          f"{1000 * crypto_total / (2 * n):.2f} ms/request; {create_breakdown}",
                "load avg": load})

            # -- view: GET /cases/<id> with a cold key cache, then again warm
            for label, clear in (("cold person keys", True), ("warm key cache", False)):
                if clear:
                    with app.app_context():
                        runtime.keyring()._cache.clear()  # bench only: force unwraps
                log(f"[{ctx.kind}] crypto (b): {n} case pages ({label})")
                timers.reset()
                req_total = 0.0
                per_request = []
                for case_id in view_ids:
                    started = time.perf_counter()
                    user.get(f"/cases/{case_id}")
                    spent = time.perf_counter() - started
                    req_total += spent
                    per_request.append(spent)
                share = timers.outer / req_total
                rows.append({
                    "measure": f"(b) view case page: crypto share, {label}", "n": n,
                    "value": 100 * share, "unit": "% of request", "target": "< 10 %",
                    "verdict": "met" if share < 0.10 else "MISSED",
                    "detail": f"median {1000 * median(per_request):.1f} ms, p95 "
                              f"{1000 * percentile(per_request, 95):.1f} ms, crypto "
                              f"{1000 * timers.outer / n:.2f} ms/page; "
                              f"{self._breakdown(timers, req_total)}",
                    "load avg": load_average()})
        return rows

    @staticmethod
    def _breakdown(timers: Timers, total: float) -> str:
        parts = []
        for name in sorted(timers.inclusive, key=lambda k: -timers.inclusive[k]):
            parts.append(f"{name} {timers.calls[name]} calls "
                         f"{100 * timers.inclusive[name] / total:.1f}%")
        return "; ".join(parts)

    # (c) ----------------------------------------------------------------------------------------
    def rotation(self, ctx: Context) -> list[dict[str, Any]]:
        from app.crypto import operations, runtime
        from app.extensions import db
        from app.models.cases import Case, CaseNote

        n = self.args.crypto_rotate
        app = ctx.app
        with app.app_context():
            cipher = runtime.cipher()
            key_id = runtime.general_key_id()
            case_id = db.session.execute(select(Case.id).limit(1)).scalar_one()
            log(f"[{ctx.kind}] crypto (c): bulk-inserting {n} encrypted case notes")
            rng = random.Random(11)  # noqa: S311
            texts = [_text(rng.randint(80, 600), rng) for _ in range(64)]
            started = time.perf_counter()
            now = datetime.now(UTC)
            table = CaseNote.__table__
            batch: list[dict[str, Any]] = []
            for i in range(n):
                note_id = uuid.uuid4()
                batch.append({"id": note_id, "case_id": case_id, "created_at": now,
                              "updated_at": now, "created_by_id": self.person.id,
                              "updated_by_id": self.person.id,
                              "text_enc": cipher.encrypt(texts[i % 64], key_id=key_id,
                                                         table="case_notes", column="text",
                                                         row_id=str(note_id))})
                if len(batch) == 5000:
                    db.session.execute(insert(table), batch)
                    batch = []
            if batch:
                db.session.execute(insert(table), batch)
            db.session.commit()
            seeded = time.perf_counter() - started
            pending = operations.count_pending_values()
            total_values = db.session.execute(select(func.count()).select_from(table)).scalar()
            log(f"[{ctx.kind}] crypto (c): seeded in {seeded:.1f}s; rotating "
                f"({total_values} notes in the table)")
            db.session.remove()
        with app.app_context():
            load_before = load_average()
            started = time.perf_counter()
            plan = operations.begin_rotation(new_key=True)
            result = operations.run_rotation(plan, batch_size=500)
            elapsed = time.perf_counter() - started
            db.session.remove()
        verdict = "met" if elapsed < 60 else "MISSED"
        return [{"measure": "(c) keys rotate (general key)", "n": result.reencrypted,
                 "value": elapsed, "unit": "s", "target": "< 60 s (100,000)", "verdict": verdict,
                 "detail": f"{result.reencrypted / elapsed:,.0f} values/s, {result.batches} "
                           f"batches of 500; plan said {plan.pending_values} pending "
                           f"(pending before new key {pending}); seeding {seeded:.1f} s; "
                           f"load before {load_before}",
                 "load avg": load_average()}]

    # (d) ----------------------------------------------------------------------------------------
    def files(self, ctx: Context) -> list[dict[str, Any]]:
        from app.crypto import runtime
        from app.crypto.files import decrypt_stream, encrypt_stream
        from app.crypto.keyring import PURPOSE_EVIDENCE

        size = self.args.crypto_file_mb * MB
        base = ctx.instance.path
        src, enc, dec = base / "evidence.bin", base / "evidence.enc", base / "evidence.out"
        log(f"[{ctx.kind}] crypto (d): writing a {size // MB} MB random file")
        with open(src, "wb") as handle:
            for _ in range(size // (4 * MB)):
                handle.write(os.urandom(4 * MB))
            handle.write(os.urandom(size % (4 * MB)))
        with ctx.app.app_context():
            ring = runtime.keyring()
            key_id = ring.active_key_id(PURPOSE_EVIDENCE)
            key = ring.data_key(key_id)
        file_id = str(uuid.uuid4())
        rows = []
        timings: dict[str, list[float]] = {"encrypt": [], "decrypt": []}
        digest = ""
        for _ in range(3):
            with open(src, "rb") as fin, open(enc, "wb") as fout:
                started = time.perf_counter()
                digest, total = encrypt_stream(fin, fout, key=key, key_id=key_id, file_id=file_id)
                timings["encrypt"].append(time.perf_counter() - started)
            with open(enc, "rb") as fin, open(dec, "wb") as fout:
                started = time.perf_counter()
                decrypt_stream(fin, fout, key=key, file_id=file_id, expected_sha256=digest)
                timings["decrypt"].append(time.perf_counter() - started)
        # memory: one more pass each with tracemalloc (slower) and with the RSS peak reset
        memory: dict[str, str] = {}
        for what in ("encrypt", "decrypt"):
            gc.collect()
            base_rss = rss_kib()
            reset_peak_rss()
            tracemalloc.start()
            if what == "encrypt":
                with open(src, "rb") as fin, open(enc, "wb") as fout:
                    encrypt_stream(fin, fout, key=key, key_id=key_id, file_id=file_id)
            else:
                with open(enc, "rb") as fin, open(dec, "wb") as fout:
                    decrypt_stream(fin, fout, key=key, file_id=file_id, expected_sha256=digest)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            memory[what] = (f"tracemalloc peak {peak / 2**20:.1f} MiB, RSS peak "
                            f"+{(peak_rss_kib() - base_rss) / 1024:.1f} MiB over {base_rss / 1024:.0f}"
                            " MiB")
        for what in ("encrypt", "decrypt"):
            best = min(timings[what])
            rate = size / MB / best
            rows.append({"measure": f"(d) {what}_stream {size // MB} MB", "n": 3,
                         "value": rate, "unit": "MB/s (best of 3)", "target": ">= 100 MB/s",
                         "verdict": "met" if rate >= 100 else "MISSED",
                         "detail": f"median {size / MB / median(timings[what]):.0f} MB/s; "
                                   f"{memory[what]}; 1 MiB chunks, page-cached files",
                         "load avg": load_average()})
        for path in (src, enc, dec):
            path.unlink(missing_ok=True)
        return rows

    def notes(self) -> list[str]:
        return [
            "All in this process (no gunicorn). (b) patches timers onto FieldCipher."
            "encrypt_bytes/decrypt_bytes, KeyRing._entry, KeyRing.new_key and BlindIndexer."
            "compute for the measurement only; nested calls count once. Key-store reads "
            "(SELECT data_keys) inside KeyRing._entry count as key handling.",
            "(b) create = POST /cases/new and POST /cases/<id>/people/new (8 identity fields, "
            "2 other names), each timed alone; view = GET /cases/<id> of a complete fictional "
            "case (3 people with their own keys, acts, sources, testimony, notes).",
            "(c) the values are case notes bulk-inserted with ciphertext from FieldCipher under "
            "the active general key; rotation = begin_rotation(new_key=True) + run_rotation "
            "(batch 500), exactly what `amanat keys rotate --new-key` runs.",
        ]
