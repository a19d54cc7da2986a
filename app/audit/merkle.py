"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification for the audit log.

Hashes are raw 32-byte SHA-256 digests. The tree over n leaves is the one RFC 6962 section 2.1
defines: MTH({}) = SHA-256(""), MTH({d}) = SHA-256(0x00 || d), and for n > 1 with k the largest
power of two smaller than n, MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).

Proof lists are ordered from the leaf (or old root) upwards, as in the RFC and in Go's
transparency-dev/merkle, so proofs interoperate with other RFC 6962 tooling. The verifiers raise
`ProofError` rather than return a boolean, so a forgotten `if` cannot turn into a pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ProofError",
    "TreeBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """An inclusion or consistency proof does not verify, or its arguments are malformed."""


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes")


class TreeBuilder:
    """Streaming RFC 6962 tree: append leaf hashes one at a time, ask for the root at any point.

    Holds only the roots of the perfect subtrees that make up the current tree (one per set bit
    of `size`, largest first): O(log n) memory, O(1) amortised hashing per append, O(log n) per
    `root()`. `state()` / `from_state()` let the application persist this running state (for
    example next to the newest audit row) and resume without re-reading the whole log.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append the hash of the next leaf (already `leaf_hash`-ed)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        stack = self._stack
        n = self._size
        h = bytes(leaf)
        # Each trailing 1 bit of the old size is a perfect subtree the new leaf completes.
        while n & 1:
            h = hashlib.sha256(_NODE_PREFIX + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes; same result as calling `append` for each, but faster."""
        stack = self._stack
        size = self._size
        sha256 = hashlib.sha256
        pop = stack.pop
        push = stack.append
        for h in leaves:
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
            n = size
            while n & 1:
                h = sha256(_NODE_PREFIX + pop() + h).digest()
                n >>= 1
            push(bytes(h))
            size += 1
            self._size = size

    def root(self) -> bytes:
        """Return the RFC 6962 root hash of the leaves appended so far."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        h = stack[-1]
        for left in reversed(stack[:-1]):
            h = hashlib.sha256(_NODE_PREFIX + left + h).digest()
        return h

    def state(self) -> tuple[int, tuple[bytes, ...]]:
        """Return (size, subtree roots largest first): enough to resume with `from_state`."""
        return self._size, tuple(self._stack)

    @classmethod
    def from_state(cls, size: int, subtree_roots: Sequence[bytes]) -> TreeBuilder:
        """Resume a builder from `state()`; the number of roots must match the bits of size."""
        if size < 0 or len(subtree_roots) != bin(size).count("1"):
            raise ValueError("subtree roots do not match the tree size")
        for h in subtree_roots:
            if len(h) != HASH_SIZE:
                raise ValueError(f"subtree root must be {HASH_SIZE} bytes")
        builder = cls()
        builder._size = size
        builder._stack = [bytes(h) for h in subtree_roots]
        return builder

    def __repr__(self) -> str:
        return f"TreeBuilder(size={self._size}, root={self.root().hex()})"


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """Return the RFC 6962 root over the given leaf hashes (SHA-256("") for none)."""
    builder = TreeBuilder()
    builder.extend(hashes)
    return builder.root()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """Return PATH(index, D[n]) of RFC 6962 section 2.1.1 for the tree over `hashes`."""
    size = len(hashes)
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    proof: list[bytes] = []
    lo, hi, m = 0, size, index
    # Walk down from the root; siblings are found top-down, the proof lists them bottom-up.
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            proof.append(root_from_leaf_hashes(hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(root_from_leaf_hashes(hashes[lo : lo + k]))
            lo, m = lo + k, m - k
    proof.reverse()
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf` is at `index` in the tree of `size` with `root` (RFC 9162 2.1.3.2).

    Raises ProofError if it is not.
    """
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root hash")
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        _check_hash(p, "proof element")
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root hash")


def consistency_proof(old_size: int, hashes: Sequence[bytes]) -> list[bytes]:
    """Return PROOF(old_size, D[n]) of RFC 9162 section 2.1.4.1 for the tree over `hashes`.

    Empty when old_size is 0 or equal to the current size (nothing to prove).
    """
    size = len(hashes)
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole_old_tree = 0, size, old_size, True
    # SUBPROOF(m, D[lo:hi], b), unrolled; like the inclusion proof, collected top-down.
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(root_from_leaf_hashes(hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(root_from_leaf_hashes(hashes[lo : lo + k]))
            lo, m, whole_old_tree = lo + k, m - k, False
    if not whole_old_tree:
        proof.append(root_from_leaf_hashes(hashes[lo:hi]))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) extends (old_size, old_root) (RFC 9162 2.1.4.2).

    Raises ProofError if the newer tree does not contain the older one as a prefix, which is
    what an edited, deleted, reordered or rebuilt history looks like.
    """
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for p in proof:
        _check_hash(p, "proof element")
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"tree shrank from {old_size} to {new_size} entries")
    if old_size == new_size:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("roots differ for the same tree size")
        return
    if old_size == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise ProofError("old root is not the empty tree's root")
        return
    if not proof:
        raise ProofError("consistency proof is empty")

    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not match the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not match the new root")
