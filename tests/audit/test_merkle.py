"""RFC 6962 Merkle tree: known answers from transparency-dev/merkle, proofs, tamper detection."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# Test vectors of github.com/transparency-dev/merkle testonly/constants.go (LeafInputs,
# RootHashes) and testonly/reference_test.go (proofs), themselves from the CT reference code.
LEAF_INPUTS = [
    b"",
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAF_HASHES_LEVEL0 = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
VECTOR_LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]


# --- the RFC's recursive definitions, as an independent reference -----------------------------


def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return node_hash(ref_root(leaves[:k]), ref_root(leaves[k:]))


def ref_path(m, leaves):
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_root(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_root(leaves[:k])]


def ref_subproof(m, leaves, whole):
    if m == len(leaves):
        return [] if whole else [ref_root(leaves)]
    k = _k(len(leaves))
    if m <= k:
        return ref_subproof(m, leaves[:k], whole) + [ref_root(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_root(leaves[:k])]


def leaves_for(n, salt=b""):
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


# --- known answers ----------------------------------------------------------------------------


def test_leaf_and_node_hashes_use_rfc6962_domain_separation():
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert [x.hex() for x in VECTOR_LEAVES] == LEAF_HASHES_LEVEL0


def test_empty_tree_root_is_sha256_of_nothing():
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == h(ROOTS[0])
    assert TreeBuilder().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_root_matches_transparency_dev_vectors(size):
    assert root_from_leaf_hashes(VECTOR_LEAVES[:size]).hex() == ROOTS[size]


def test_incremental_builder_gives_every_intermediate_root():
    builder = TreeBuilder()
    assert builder.size == 0
    for size in range(1, 9):
        builder.append(VECTOR_LEAVES[size - 1])
        assert builder.size == size
        assert builder.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION_VECTORS)
def test_inclusion_proof_matches_transparency_dev_vectors(index, size, want):
    proof = inclusion_proof(index, VECTOR_LEAVES[:size])
    assert [p.hex() for p in proof] == want
    verify_inclusion(VECTOR_LEAVES[index], index, size, proof, h(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "want"), CONSISTENCY_VECTORS)
def test_consistency_proof_matches_transparency_dev_vectors(old, new, want):
    proof = consistency_proof(old, VECTOR_LEAVES[:new])
    assert [p.hex() for p in proof] == want
    verify_consistency(old, new, h(ROOTS[old]), h(ROOTS[new]), proof)


def test_consistency_vector_rejects_a_wrong_old_root():
    proof = [h(x) for x in CONSISTENCY_VECTORS[3][2]]
    with pytest.raises(ProofError):
        verify_consistency(6, 8, h(ROOTS[5]), h(ROOTS[8]), proof)


# --- every size and index against the RFC definitions -----------------------------------------


def test_proofs_match_rfc_definitions_and_verify_for_all_sizes_up_to_33():
    leaves = leaves_for(33)
    for n in range(1, 34):
        tree = leaves[:n]
        root = root_from_leaf_hashes(tree)
        assert root == ref_root(tree)
        for m in range(n):
            proof = inclusion_proof(m, tree)
            assert proof == ref_path(m, tree)
            verify_inclusion(tree[m], m, n, proof, root)
        for m in range(1, n + 1):
            proof = consistency_proof(m, tree)
            assert proof == (ref_subproof(m, tree, True) if m < n else [])
            verify_consistency(m, n, ref_root(tree[:m]), root, proof)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 3000), data=st.data())
def test_inclusion_proofs_verify_for_any_size_and_index(size, data):
    leaves = leaves_for(size)
    index = data.draw(st.integers(0, size - 1))
    root = root_from_leaf_hashes(leaves)
    verify_inclusion(leaves[index], index, size, inclusion_proof(index, leaves), root)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 3000), data=st.data())
def test_consistency_proofs_verify_for_any_pair_of_sizes(size, data):
    leaves = leaves_for(size)
    old = data.draw(st.integers(0, size))
    verify_consistency(
        old,
        size,
        root_from_leaf_hashes(leaves[:old]),
        root_from_leaf_hashes(leaves),
        consistency_proof(old, leaves),
    )


@settings(max_examples=40, deadline=None)
@given(hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=200), cut=st.integers(0, 200))
def test_builder_state_round_trip_resumes_the_same_tree(hashes, cut):
    cut = min(cut, len(hashes))
    first = TreeBuilder()
    first.extend(hashes[:cut])
    resumed = TreeBuilder.from_state(*first.state())
    for x in hashes[cut:]:
        resumed.append(x)
    assert resumed.size == len(hashes)
    assert resumed.root() == ref_root(hashes)


def test_builder_refuses_state_that_does_not_match_the_size():
    with pytest.raises(ValueError):
        TreeBuilder.from_state(3, [b"\x00" * 32])
    with pytest.raises(ValueError):
        TreeBuilder().append(b"short")


# --- tampered proofs --------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(size=st.integers(2, 300), data=st.data())
def test_inclusion_proof_fails_for_an_edited_leaf_another_index_or_altered_proof(size, data):
    leaves = leaves_for(size)
    index = data.draw(st.integers(0, size - 1))
    root = root_from_leaf_hashes(leaves)
    proof = inclusion_proof(index, leaves)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"edited"), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], other, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, size, proof + [leaves[0]], root)
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, proof[:-1], root)
        position = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, bad, root)


@settings(max_examples=80, deadline=None)
@given(size=st.integers(3, 300), data=st.data())
def test_consistency_proof_fails_when_any_element_is_altered(size, data):
    leaves = leaves_for(size)
    old = data.draw(st.integers(1, size - 1))
    old_root, new_root = root_from_leaf_hashes(leaves[:old]), root_from_leaf_hashes(leaves)
    proof = consistency_proof(old, leaves)
    position = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[position] = bytes([bad[position][0] ^ 0x80]) + bad[position][1:]
    with pytest.raises(ProofError):
        verify_consistency(old, size, old_root, new_root, bad)
    with pytest.raises(ProofError):
        verify_consistency(old, size, old_root, new_root, proof[:-1])
    with pytest.raises(ProofError):
        verify_consistency(old, size, old_root, new_root, proof + [leaves[0]])


def test_consistency_refuses_a_shrunken_tree_and_unequal_roots_at_equal_size():
    leaves = leaves_for(5)
    root = root_from_leaf_hashes(leaves)
    with pytest.raises(ProofError, match="shrank"):
        verify_consistency(5, 4, root, root_from_leaf_hashes(leaves[:4]), [])
    with pytest.raises(ProofError):
        verify_consistency(5, 5, root, root_from_leaf_hashes(leaves_for(5, b"x")), [])
    with pytest.raises(ProofError):
        verify_consistency(0, 5, leaves[0], root, [])
    verify_consistency(0, 5, EMPTY_ROOT, root, [])


# --- tampered logs: the audit verifier's view -------------------------------------------------
# A checkpoint (size, root) was taken and exported; later the stored rows are changed.
# The verifier recomputes leaf hashes from the rows and proves consistency with the checkpoint.


def _edit(rows, i):
    rows[i] = rows[i] + b" (edited)"


def _delete_middle(rows, i):
    del rows[i]


def _swap(rows, i):
    j = i + 1 if i + 1 < len(rows) else i - 1
    rows[i], rows[j] = rows[j], rows[i]


def _delete_last(rows, i):
    del rows[i:]


TAMPERINGS = {
    "edit": _edit,
    "delete_middle": _delete_middle,
    "reorder": _swap,
    "delete_last": _delete_last,
}


def _still_consistent(checkpoint_size, checkpoint_root, rows):
    """What `amanat audit verify` does against an exported checkpoint."""
    leaves = [leaf_hash(r) for r in rows]
    if len(leaves) < checkpoint_size:
        return False
    try:
        verify_consistency(
            checkpoint_size,
            len(leaves),
            checkpoint_root,
            root_from_leaf_hashes(leaves),
            consistency_proof(checkpoint_size, leaves),
        )
    except ProofError:
        return False
    return True


@settings(max_examples=120, deadline=None)
@given(
    size=st.integers(2, 200),
    appended=st.integers(0, 50),
    kind=st.sampled_from(sorted(TAMPERINGS)),
    data=st.data(),
)
def test_consistency_proof_detects_rewritten_history(size, appended, kind, data):
    rows = [f"entry {i}".encode() for i in range(size)]
    checkpoint_root = root_from_leaf_hashes(leaf_hash(r) for r in rows)
    rows += [f"later entry {i}".encode() for i in range(appended)]
    assert _still_consistent(size, checkpoint_root, rows)

    victim = data.draw(st.integers(0, size - 1))  # a row covered by the checkpoint
    TAMPERINGS[kind](rows, victim)
    assert not _still_consistent(size, checkpoint_root, rows)


def test_rows_appended_after_a_checkpoint_stay_consistent_with_it():
    rows = [f"entry {i}".encode() for i in range(10)]
    old_root = root_from_leaf_hashes(leaf_hash(r) for r in rows[:7])
    assert _still_consistent(7, old_root, rows)


def test_root_over_a_million_leaves_is_linear_and_streaming():
    # Not a benchmark; guards against an accidental quadratic or recursive rewrite.
    leaves = (hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1 << 17))
    builder = TreeBuilder()
    builder.extend(leaves)
    assert builder.size == 1 << 17
    assert len(builder.state()[1]) == 1
