"""Cross-node consistency in the spirit of `gnt-cluster verify`: facts of both nodes in,
findings out. Pure functions, no I/O: the handover report feeds them the facts it read live.

What each compares (guide drbd-heartbeat-xen.md section 6):

- :func:`package_versions`: the cluster's packages have one version on both nodes
  (gnt: "software version mismatch");
- :func:`file_hashes`: drbd.conf, ha.cf, haresources, authkeys and the DomU cfgs are the same
  file on both nodes, by SHA-256 (gnt: "File %s found with N different checksums", "File %s
  is missing from node(s) %s"); nothing ever shows a file's content, so authkeys stays secret;
- :func:`clock_skew`: the nodes' clocks agree within a limit (gnt: "Node time diverges");
- :func:`n_plus_one`: either node can run every DomU if the other fails (gnt: "not enough
  memory to accomodate instance failovers should node %s fail");
- :func:`unused_lvs`: every LV of the DomUs' volume group belongs to a DomU or a DRBD
  resource (gnt: "volume %s is unknown").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from runbook.record import Finding

DEFAULT_CLOCK_SKEW_LIMIT_S = 1.0  # NTP keeps dom0 clocks within milliseconds; logs must line up


@dataclass(frozen=True)
class Verdict:
    """One consistency check over both nodes: what it compared and what it found."""

    name: str  # short id: "packages", "files", "clock", "memory", "lvs"
    title: str  # "Same package versions on both nodes"
    compared: str  # one sentence: "12 packages on ha1 and ha2"
    findings: tuple[Finding, ...] = ()
    unavailable: str = ""  # why it could not be decided (a node's facts are missing)

    @property
    def outcome(self) -> str:
        if self.unavailable:
            return "not checked"
        return "failed" if self.findings else "passed"


def _version(v: str | None) -> str:
    return v if v else "not installed"


def package_versions(versions: Mapping[str, Mapping[str, str | None]]) -> list[Finding]:
    """node -> package -> installed version (None or absent: not installed)."""
    nodes = sorted(versions)
    names = sorted({p for per_node in versions.values() for p in per_node})
    found: list[Finding] = []
    for name in names:
        seen = {n: versions[n].get(name) for n in nodes}
        if len(set(seen.values())) > 1:
            first, *others = nodes
            for other in others:
                if seen[other] != seen[first]:
                    found.append(Finding(
                        subject="package", key=name, node=other,
                        expected=f"{_version(seen[first])} (as on {first})",
                        found=_version(seen[other])))
    return found


def file_hashes(hashes: Mapping[str, Mapping[str, str | None]]) -> list[Finding]:
    """node -> path -> SHA-256 (None: the file is missing). A file on no node is no finding."""
    nodes = sorted(hashes)
    paths = sorted({p for per_node in hashes.values() for p in per_node})
    found: list[Finding] = []
    for path in paths:
        seen = {n: hashes[n].get(path) for n in nodes}
        present = [n for n in nodes if seen[n] is not None]
        if not present:
            continue
        for n in nodes:
            if seen[n] is None:
                found.append(Finding(subject=path, node=n, expected="the file (as on "
                                     f"{', '.join(present)})", found="no such file"))
        digests = {seen[n] for n in present}
        if len(digests) > 1:
            first, *others = present
            for other in others:
                if seen[other] != seen[first]:
                    found.append(Finding(
                        subject=path, node=other,
                        expected=f"SHA-256 {_short(seen[first])} (as on {first})",
                        found=f"SHA-256 {_short(seen[other])}"))
    return found


def _short(digest: str | None) -> str:
    return (digest or "")[:16] + "…"


def clock_skew(offset_s: float, uncertainty_s: float, limit_s: float,
               nodes: tuple[str, str]) -> list[Finding]:
    """``offset_s``: the second node's clock minus the first's, known to ± ``uncertainty_s``.

    Passes only when the skew is provably within the limit; a measurement too coarse to tell
    is a finding too (never a pass on a guess).
    """
    first, second = nodes
    if abs(offset_s) + uncertainty_s <= limit_s:
        return []
    return [Finding(subject="clock", node=second,
                    expected=f"within {limit_s:g} s of {first}",
                    found=f"{offset_s:+.3f} s ± {uncertainty_s:.3f} s from {first}")]


def n_plus_one(free_mib: Mapping[str, float], running: Mapping[str, Mapping[str, float]],
               domu_mib: Mapping[str, float]) -> list[Finding]:
    """Each node's free memory holds every DomU it does not run yet, should the other fail.

    ``free_mib``: node -> Xen's free memory; ``running``: node -> DomU -> memory it runs
    with; ``domu_mib``: DomU -> memory (as running, else as configured).
    """
    found: list[Finding] = []
    for survivor in sorted(free_mib):
        for failed in sorted(n for n in free_mib if n != survivor):
            here = running.get(survivor, {})
            needed = sum(mib for name, mib in domu_mib.items() if name not in here)
            if needed > free_mib[survivor]:
                moving = sorted(name for name in domu_mib if name not in here)
                found.append(Finding(
                    subject="memory for failover", node=survivor,
                    expected=f"{needed:.0f} MiB free should {failed} fail "
                             f"({', '.join(moving)})",
                    found=f"{free_mib[survivor]:.0f} MiB free"))
    return found


_MAPPER = re.compile(r"^/dev/mapper/(?P<vg>(?:[^-]|--)+)-(?P<lv>(?:[^-]|--)+)$")
_DEV = re.compile(r"^/dev/(?P<vg>[^/]+)/(?P<lv>[^/]+)$")


def lv_of(device: str) -> tuple[str, str] | None:
    """(vg, lv) of ``/dev/VG/LV``, ``/dev/mapper/VG-LV`` or ``phy:/dev/VG/LV``; else None."""
    path = device.removeprefix("phy:").split(",")[0].strip()
    match = _MAPPER.match(path)
    if match:
        return match["vg"].replace("--", "-"), match["lv"].replace("--", "-")
    match = _DEV.match(path)
    if match and match["vg"] not in ("mapper", "disk", "drbd"):
        return match["vg"], match["lv"]
    return None


def unused_lvs(vg: str, lvs: Mapping[str, Iterable[str]], used: Iterable[str],
               domu_lv_names: Iterable[str]) -> list[Finding]:
    """LVs of ``vg`` (node -> LV names) that no DomU and no DRBD resource uses.

    ``used``: devices named by DomU cfgs (``phy:/dev/vg/x``) and drbd.conf (``disk``,
    ``meta-disk``) on either node; ``domu_lv_names``: the LVs the inventory's DomUs own by
    name (NAME-disk, NAME-swap), used even where no cfg names them yet (the peer's copies).
    """
    taken = {lv for dev in used if (ref := lv_of(dev)) is not None and ref[0] == vg
             for lv in [ref[1]]} | set(domu_lv_names)
    found: list[Finding] = []
    for node in sorted(lvs):
        for lv in sorted(set(lvs[node]) - taken):
            found.append(Finding(subject=f"LV {vg}/{lv}", node=node,
                                 expected="used by a DomU or a DRBD resource",
                                 found="used by none"))
    return found
