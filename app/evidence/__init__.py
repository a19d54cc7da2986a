"""Evidence files: encrypted on disk under random names, checked against their SHA-256 on read."""

from app.evidence.store import (
    EvidenceError,
    EvidenceMissing,
    EvidenceStorageFull,
    EvidenceStore,
    EvidenceTampered,
    EvidenceTooLarge,
    EvidenceWriteFailed,
    StoredFile,
)

__all__ = [
    "EvidenceError",
    "EvidenceMissing",
    "EvidenceStorageFull",
    "EvidenceStore",
    "EvidenceTampered",
    "EvidenceTooLarge",
    "EvidenceWriteFailed",
    "StoredFile",
]
