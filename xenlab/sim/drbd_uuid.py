"""Generation identifiers, the sync handshake's decision and the bitmap (stdlib only, pure).

Follows drbd/drbd_receiver.c of DRBD 8.3 (drbd_uuid_compare, drbd_sync_handshake,
drbd_asb_recover_0p/1p/2p) on the subset of rules a two-node cluster meets. UUIDs are
[current, bitmap, history1, history2]; bit 0 of every UUID is masked as in the kernel.

:func:`compare` returns the kernel's ``hg``: 0 no sync, 1/-1 bitmap sync as source/target,
2/-2 full sync as source/target, 100/-100 split brain, -1000 unrelated data.
"""

from __future__ import annotations

JUST_CREATED = 4
CURRENT, BITMAP, HISTORY1, HISTORY2 = range(4)
SPLIT_BRAIN = 100
UNRELATED = -1000


def _m(value: int) -> int:
    return value & ~1


def compare(self_uuids: list[int], peer_uuids: list[int]) -> int:
    """drbd_uuid_compare without the crashed-primary refinements of rule 40."""
    self_cur, peer_cur = _m(self_uuids[CURRENT]), _m(peer_uuids[CURRENT])
    if self_cur == JUST_CREATED and peer_cur == JUST_CREATED:
        return 0
    if self_cur in (JUST_CREATED, 0) and peer_cur != JUST_CREATED:
        return -2
    if self_cur != JUST_CREATED and peer_cur in (JUST_CREATED, 0):
        return 2
    if self_cur == peer_cur:
        return 0
    if self_cur == _m(peer_uuids[BITMAP]):
        return -1
    if any(self_cur == _m(u) for u in peer_uuids[HISTORY1:]):
        return -2
    if _m(self_uuids[BITMAP]) == peer_cur:
        return 1
    if any(_m(u) == peer_cur for u in self_uuids[HISTORY1:]):
        return 2
    if _m(self_uuids[BITMAP]) == _m(peer_uuids[BITMAP]) and _m(self_uuids[BITMAP]) != 0:
        return SPLIT_BRAIN
    for mine in self_uuids[HISTORY1:]:
        if mine and any(_m(mine) == _m(p) for p in peer_uuids[HISTORY1:]):
            return -SPLIT_BRAIN
    return UNRELATED


def after_sb(policy_0p: str, policy_1p: str, policy_2p: str, self_primary: bool,
             peer_primary: bool, self_changes: int, peer_changes: int,
             discard_concurrent: bool) -> int:
    """The automatic split-brain policies; -100 when they leave it unresolved.

    ``discard_concurrent`` is the kernel's tie breaker (one fixed side of the connection).
    """
    primaries = int(self_primary) + int(peer_primary)
    if primaries == 0:
        return recover_0p(policy_0p, self_changes, peer_changes, discard_concurrent)
    if primaries == 1:
        if policy_1p == "discard-secondary":
            return 1 if self_primary else -1
        if policy_1p in ("consensus", "violently-as0p"):
            hg = recover_0p(policy_0p, self_changes, peer_changes, discard_concurrent)
            if policy_1p == "violently-as0p" or (hg == -1 and not self_primary) or (
                    hg == 1 and self_primary):
                return hg
        return -SPLIT_BRAIN
    if policy_2p == "violently-as0p":
        return recover_0p(policy_0p, self_changes, peer_changes, discard_concurrent)
    return -SPLIT_BRAIN


def recover_0p(policy: str, self_changes: int, peer_changes: int,
               discard_concurrent: bool) -> int:
    if policy == "discard-zero-changes":
        if self_changes == 0 and peer_changes == 0:
            return -1 if discard_concurrent else 1
        if peer_changes == 0:
            return 1
        if self_changes == 0:
            return -1
        return -SPLIT_BRAIN
    if policy == "discard-least-changes":
        if self_changes != peer_changes:
            return 1 if self_changes > peer_changes else -1
        return -1 if discard_concurrent else 1
    return -SPLIT_BRAIN


def handshake(self_uuids: list[int], peer_uuids: list[int], *, policies: tuple[str, str, str],
              self_primary: bool, peer_primary: bool, self_changes: int, peer_changes: int,
              self_discard: bool, peer_discard: bool, discard_concurrent: bool
              ) -> tuple[int, str]:
    """drbd_sync_handshake: (hg, log message). hg -100: drop the connection (split brain)."""
    hg = compare(self_uuids, peer_uuids)
    message = ""
    if hg == UNRELATED:
        return hg, "Unrelated data, aborting!"
    if abs(hg) == SPLIT_BRAIN:
        message = "Split-Brain detected, dropping connection!"
    if hg == SPLIT_BRAIN:
        hg = after_sb(*policies, self_primary, peer_primary, self_changes, peer_changes,
                      discard_concurrent)
        if abs(hg) < SPLIT_BRAIN:
            side = "this" if hg > 0 else "peer"
            message = (f"Split-Brain detected, {int(self_primary) + int(peer_primary)} "
                       f"primaries, automatically solved. Sync from {side} node")
        else:
            hg = -SPLIT_BRAIN
    if hg == -SPLIT_BRAIN:
        if self_discard and not peer_discard:
            hg, message = -1, "Split-Brain detected, manually solved. Sync from peer node"
        elif peer_discard and not self_discard:
            hg, message = 1, "Split-Brain detected, manually solved. Sync from this node"
    return hg, message


def new_current(uuids: list[int], fresh: int) -> list[int]:
    """drbd_uuid_new_current: the current UUID becomes the bitmap UUID (if that is free)."""
    result = list(uuids)
    if result[BITMAP] == 0:
        result[BITMAP] = result[CURRENT]
    result[CURRENT] = fresh
    return result


def bitmap_done(uuids: list[int]) -> list[int]:
    """drbd_uuid_set_bm(0) on the sync source: the bitmap UUID moves into the history."""
    result = list(uuids)
    if result[BITMAP]:
        result[HISTORY2] = result[HISTORY1]
        result[HISTORY1] = result[BITMAP]
        result[BITMAP] = 0
    return result


def adopt(peer_uuids: list[int]) -> list[int]:
    """A sync target's UUIDs once in sync: the source's current and history, no bitmap."""
    return [peer_uuids[CURRENT], 0, peer_uuids[HISTORY1], peer_uuids[HISTORY2]]


# ----------------------------------------------------------------------------- bitmap


def bits_for(size: int, block: int = 4096) -> int:
    return (size + block - 1) // block


def set_range(bitmap: bytearray, offset: int, length: int, block: int = 4096) -> int:
    """Mark the blocks of [offset, offset+length) out of sync; returns how many were new."""
    new = 0
    for bit in range(offset // block, (offset + max(length, 1) - 1) // block + 1):
        if not bitmap[bit >> 3] & (1 << (bit & 7)):
            bitmap[bit >> 3] |= 1 << (bit & 7)
            new += 1
    return new


def set_all(bitmap: bytearray, nbits: int) -> None:
    for bit in range(nbits):
        bitmap[bit >> 3] |= 1 << (bit & 7)


def clear_bit(bitmap: bytearray, bit: int) -> None:
    bitmap[bit >> 3] &= ~(1 << (bit & 7)) & 0xFF


def count(bitmap: bytes | bytearray) -> int:
    return sum(bin(b).count("1") for b in bitmap)


def merge(mine: bytearray, other: bytes) -> None:
    """The resync covers the blocks either side changed (the bitmaps are OR-ed)."""
    for i, byte in enumerate(other[:len(mine)]):
        mine[i] |= byte


def runs(bitmap: bytes | bytearray, nbits: int, max_run: int = 16) -> list[tuple[int, int]]:
    """Out-of-sync blocks as (first bit, count) runs of at most ``max_run`` bits: the resync
    requests, in disk order."""
    result: list[tuple[int, int]] = []
    start = -1
    for bit in range(nbits):
        is_set = bool(bitmap[bit >> 3] & (1 << (bit & 7)))
        if is_set and start < 0:
            start = bit
        if start >= 0 and (not is_set or bit - start >= max_run):
            result.append((start, bit - start))
            start = bit if is_set else -1
    if start >= 0:
        result.append((start, nbits - start))
    return result
