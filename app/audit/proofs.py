"""Merkle proofs for a log too large to hold in memory: which tree nodes a proof needs, and their
hashes collected in one streaming pass over the leaf hashes.

`merkle.inclusion_proof` and `merkle.consistency_proof` take every leaf hash as a list; here the
same proofs are first described as node ranges [lo, hi) of the RFC 6962 tree (`inclusion_nodes`,
`consistency_nodes`, same walk, same order), then `NodeCollector` hashes the leaves once, in order,
keeping only the wanted nodes: O(n) hashing and O(log n + wanted nodes) memory for any number of
proofs. The tests check the results equal the in-memory functions'.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from app.audit.merkle import EMPTY_ROOT, HASH_SIZE

__all__ = ["NodeCollector", "Range", "consistency_nodes", "inclusion_nodes"]

Range = tuple[int, int]  # [lo, hi) leaf indices of one node of the tree
_NODE_PREFIX = b"\x01"


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_nodes(index: int, size: int) -> list[Range]:
    """The nodes whose hashes make PATH(index, D[size]), bottom-up (as merkle.inclusion_proof)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    nodes: list[Range] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            nodes.append((lo + k, hi))
            hi = lo + k
        else:
            nodes.append((lo, lo + k))
            lo, m = lo + k, m - k
    nodes.reverse()
    return nodes


def consistency_nodes(old_size: int, size: int) -> list[Range]:
    """The nodes whose hashes make PROOF(old_size, D[size]) (as merkle.consistency_proof)."""
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    nodes: list[Range] = []
    lo, hi, m, whole_old_tree = 0, size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            nodes.append((lo + k, hi))
            hi = lo + k
        else:
            nodes.append((lo, lo + k))
            lo, m, whole_old_tree = lo + k, m - k, False
    if not whole_old_tree:
        nodes.append((lo, hi))
    nodes.reverse()
    return nodes


class NodeCollector:
    """Append leaf hashes in order; keeps the hashes of `wanted` nodes of the tree of `size` leaves.

    Perfect subtrees are hashed anyway while the tree is built, so those in `wanted` are kept as
    they complete; the others (the tree's right edge, [lo, size)) are folded from the builder's
    stack when the last leaf arrives. Leaves past `size` are refused.
    """

    __slots__ = ("_found", "_size", "_stack", "_wanted", "count")

    def __init__(self, size: int, wanted: Iterable[Range]) -> None:
        self._size = size
        self._wanted = {node for node in wanted if node[1] <= size}
        self._found: dict[Range, bytes] = {}
        self._stack: list[tuple[int, bytes]] = []  # (start index, hash) of perfect subtrees
        self.count = 0
        if size == 0:
            self._finish()

    def append(self, leaf: bytes) -> None:
        i = self.count
        if i >= self._size:
            raise ValueError(f"more than {self._size} leaves")
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        wanted, stack = self._wanted, self._stack
        h, start, n = bytes(leaf), i, i
        if (i, i + 1) in wanted:
            self._found[(i, i + 1)] = h
        while n & 1:
            start, left = stack.pop()
            h = hashlib.sha256(_NODE_PREFIX + left + h).digest()
            n >>= 1
            if (start, i + 1) in wanted:
                self._found[(start, i + 1)] = h
        stack.append((start, h))
        self.count = i + 1
        if self.count == self._size:
            self._finish()

    def _finish(self) -> None:
        # Nodes on the right edge of the tree are [start of a stack entry, size).
        h = EMPTY_ROOT
        for position in range(len(self._stack) - 1, -1, -1):
            start, subtree = self._stack[position]
            h = subtree if position == len(self._stack) - 1 else hashlib.sha256(
                _NODE_PREFIX + subtree + h).digest()
            if (start, self._size) in self._wanted:
                self._found[(start, self._size)] = h

    def hashes(self, nodes: Sequence[Range]) -> list[bytes]:
        """The hashes of `nodes`, in their order; every leaf must have been appended."""
        if self.count != self._size:
            raise ValueError(f"{self.count} of {self._size} leaves appended")
        missing = [node for node in nodes if node not in self._found]
        if missing:
            raise KeyError(f"nodes not collected: {missing[:3]}")
        return [self._found[node] for node in nodes]
