"""RFC 6962 / RFC 9162 Merkle tree hashing: tree heads, inclusion and consistency proofs, and their checks.

Pure functions. A tree is read through ``node(level, index)``, the hash of the perfect subtree that covers leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Only perfect subtrees are ever
stored, so any tree head or proof for any tree size needs O(log n) stored nodes.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) in RFC 6962 §2.1

NodeSource = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof does not verify, or was asked for sizes it cannot exist for."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeSource) -> bytes:
    """MTH of leaves [start, end): one stored node when the range is a perfect aligned subtree."""
    size = end - start
    if size <= 0:
        raise ProofError(f"empty range [{start}, {end})")
    if size & (size - 1) == 0 and start % size == 0:
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def tree_root(size: int, node: NodeSource) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, node)


def inclusion_path(index: int, size: int, node: NodeSource) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_path(first: int, second: int, node: NodeSource) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1 for 0 < m ≤ n."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof between sizes {first} and {second}")
    proof: list[bytes] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, node))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(subtree_hash(start, end, node))
    proof.reverse()
    return proof


def needed_nodes(fn: Callable[[NodeSource], object]) -> list[tuple[int, int]]:
    """Which stored nodes ``fn`` reads: lets a store fetch them all in one query before computing."""
    wanted: list[tuple[int, int]] = []

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return b"\0" * HASH_SIZE

    fn(record)
    return wanted


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------------------------------

def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``proof`` shows leaf ``index`` with hash ``leaf`` is in the tree with ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise ProofError unless the tree of size ``second`` extends the tree of size ``first`` (append-only)."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof between sizes {first} and {second}")
    if first == second:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError(f"two different roots for the same tree size {first}")
        return
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        raise ProofError("empty consistency proof")
    fn, sn = first - 1, second - 1
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
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != first_root:
        raise ProofError(f"consistency proof does not reproduce the root of tree size {first}")
    if sr != second_root:
        raise ProofError(f"consistency proof does not reproduce the root of tree size {second}")


# -- building ------------------------------------------------------------------------------------------------

class TreeBuilder:
    """Adds leaves one at a time, yielding each perfect subtree node as it completes; knows the root at any point.

    ``frontier`` maps level → hash of the perfect subtrees whose sizes are the set bits of ``size``: exactly the
    left siblings the next append needs, so appends cost O(1) amortised without reading the tree back.
    """

    def __init__(self, size: int = 0, frontier: dict[int, bytes] | None = None) -> None:
        self.size = size
        self.frontier: dict[int, bytes] = dict(frontier or {})

    @staticmethod
    def frontier_nodes(size: int) -> list[tuple[int, int]]:
        """(level, index) of the perfect subtrees that make up a tree of ``size`` leaves, largest first."""
        nodes, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                nodes.append((level, start >> level))
                start += 1 << level
        return nodes

    def add(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; returns the (level, index, hash) nodes that now exist and did not before."""
        created = [(0, self.size, leaf)]
        level, index, h = 0, self.size, leaf
        while index & 1:
            h = node_hash(self.frontier.pop(level), h)
            level += 1
            index >>= 1
            created.append((level, index, h))
        self.frontier[level] = h
        self.size += 1
        return created

    def root(self) -> bytes:
        if self.size == 0:
            return EMPTY_ROOT
        levels = sorted(self.frontier)
        r = self.frontier[levels[0]]
        for level in levels[1:]:
            r = node_hash(self.frontier[level], r)
        return r


def root_of(leaves: Iterable[bytes]) -> bytes:
    builder = TreeBuilder()
    for leaf in leaves:
        builder.add(leaf)
    return builder.root()
