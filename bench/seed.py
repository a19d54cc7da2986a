"""Seed accounts through the services, as an administrator's tools would, with production Argon2."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

import pyotp
from flask import Flask

from app.extensions import db
from app.security import passwords
from app.services import accounts

PASSWORD = "bench-" + secrets.token_urlsafe(12)  # throw-away, new every run


@dataclass
class Person:
    """A seeded, fully enrolled account and what its owner knows (password, TOTP seed)."""

    id: uuid.UUID
    email: str
    password: str
    totp_secret: str
    last_step: int | None

    def next_code(self) -> str:
        """A TOTP code this account has not used yet (each time step works only once)."""
        totp = pyotp.TOTP(self.totp_secret)
        while True:
            current = totp.timecode(time.time())
            step = current - 1 if self.last_step is None else max(current - 1, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return totp.generate_otp(step)
            time.sleep(1)


def seed_users(app: Flask, count: int, prefix: str, role: str = "caseworker") -> list[Person]:
    """`count` enrolled accounts, each with its own Argon2id hash at the configured parameters."""
    people = []
    with app.app_context():
        for index in range(count):
            email = f"{prefix}-{index:04d}-{uuid.uuid4().hex[:6]}@bench.amanat.test"
            user = accounts.create_user(None, name=f"Bench {prefix.title()} {index}", email=email,
                                        role=role)
            user.password_hash = passwords.hash_password(PASSWORD)
            secret = accounts.start_totp_enrolment(user)
            accounts.confirm_totp_enrolment(user, pyotp.TOTP(secret).now())
            db.session.commit()
            people.append(Person(user.id, email, PASSWORD, secret, user.totp_last_step))
        db.session.remove()
    return people


def argon2_parameters(app: Flask) -> str:
    cfg = app.config
    return (f"Argon2id m={cfg['ARGON2_MEMORY_KIB'] // 1024} MiB, t={cfg['ARGON2_TIME_COST']}, "
            f"p={cfg['ARGON2_PARALLELISM']}")
