"""TOTP second factor (pyotp) with single use of each code, and one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """An inline SVG QR code, so enrolment needs no external service and no script."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace())


def accepted_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step this code belongs to if valid and newer than the last one used, else None.

    One step of clock drift either way is allowed; a step at or before `last_step` is a replay.
    """
    code = normalise_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(time.time() if now is None else now)  # type: ignore[arg-type]
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if last_step is not None and step <= last_step:
                return None
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of 16 characters from a 32-letter alphabet: 80 random bits each."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    cleaned = normalise_code(code).replace("-", "").upper()
    return hashlib.sha256(cleaned.encode("ascii", "ignore")).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    cleaned = normalise_code(code).replace("-", "")
    return len(cleaned) == 16
