"""Tamper-evident audit log core: canonical entries, RFC 6962 Merkle tree, signed checkpoints."""

from .canonical import *  # noqa: F403
from .checkpoint import *  # noqa: F403
from .merkle import *  # noqa: F403
