"""05-domu's plans and refusals as tables: placements in, actions or a refusal out."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.engine import Refused, StepFailed
from runbook.facts import Fact, FactFailed, Facts, FactUnparsable
from runbook.facts.domu import Placement, cfg_exists, placement_facts
from runbook.facts.lvm import LVS
from runbook.facts.packages import packages
from runbook.facts.system import UNAME_R
from runbook.facts.xen import XM_LIST
from runbook.inventory import ClusterInventory, DomU
from runbook.remote import CommandResult
from runbook.tasks.domu import (
    BootTest,
    CreateImage,
    CreateLV,
    placement_from,
    plan_first_boot,
    plan_image,
    plan_peer_lvs,
)

SIZES = {"test-disk": 5120.0, "test-swap": 384.0}
NOTHING = Placement.empty()
IMAGE = Placement(frozenset(), SIZES, frozenset({"test"}))
RUNNING = Placement(frozenset({"test"}), SIZES, frozenset({"test"}))


@pytest.fixture
def domu(cluster: ClusterInventory) -> DomU:
    (only,) = cluster.domus
    assert only.name == "test" and only.home == "ha1"
    return only


# image (on the home node) ---------------------------------------------------------------
def test_fresh_node_gets_xen_create_image(domu: DomU) -> None:
    plan = plan_image(domu, NOTHING, NOTHING, "ha2", "vg", lambda: "s3cret")
    (action,) = plan.actions
    assert isinstance(action, CreateImage)
    assert plan.describe() == [
        "run: xen-create-image --hostname=test --ip=192.168.1.50 --memory=384Mb --size=5Gb "
        "--swap=384Mb --dist=hardy --lvm=vg (root password on stdin)"]
    assert "s3cret" not in repr(plan) and "s3cret" not in " ".join(plan.describe())
    with pytest.raises(StepFailed, match="no root password"):
        plan_image(domu, NOTHING, NOTHING, "ha2", "vg", no_password)


@pytest.mark.parametrize(("case", "here", "peer", "message"), [
    ("disk LV left over", Placement(frozenset(), {"test-disk": 5120.0}, frozenset()), NOTHING,
     "test-disk already exist"),
    ("both LVs, no cfg", Placement(frozenset(), SIZES, frozenset()), NOTHING,
     "test-disk, test-swap already exist"),
    ("cfg only", Placement(frozenset(), {}, frozenset({"test"})), NOTHING,
     "/etc/xen/test.cfg already exist"),
    ("runs on the peer without an image here", NOTHING, RUNNING, "is running on ha2"),
])
def test_image_refusals(domu: DomU, case: str, here: Placement, peer: Placement,
                        message: str) -> None:
    with pytest.raises(Refused, match=message):
        plan_image(domu, here, peer, "ha2", "vg", lambda: "s3cret")


def no_password() -> str:
    raise StepFailed("no root password")


@pytest.mark.parametrize("peer", [NOTHING, RUNNING, None])
def test_created_image_is_a_no_op_and_needs_no_password(domu: DomU,
                                                        peer: Placement | None) -> None:
    plan = plan_image(domu, IMAGE, peer, "ha2", "vg", no_password)
    assert not plan and plan.notes == (
        "test: image already created (test-disk, test-swap, /etc/xen/test.cfg)",)


# peer LVs -------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "here", "home_lvs", "expected"), [
    ("fresh peer", NOTHING, {"ha1": SIZES},
     [CreateLV("test-disk", "vg", 5120.0), CreateLV("test-swap", "vg", 384.0)]),
    ("one LV made already", Placement(frozenset(), {"test-disk": 5120.0}, frozenset()),
     {"ha1": SIZES}, [CreateLV("test-swap", "vg", 384.0)]),
    ("done", IMAGE, {"ha1": SIZES}, []),
    ("home rounded its sizes up", NOTHING, {"ha1": {"test-disk": 5124.0, "test-swap": 388.0}},
     [CreateLV("test-disk", "vg", 5124.0), CreateLV("test-swap", "vg", 388.0)]),
])
def test_peer_lv_plans(domu: DomU, case: str, here: Placement,
                       home_lvs: dict[str, dict[str, float]], expected: list[CreateLV]) -> None:
    plan = plan_peer_lvs((domu,), "ha2", here, home_lvs, "vg", dry_run=False)
    assert list(plan.actions) == expected, case


def test_peer_lv_size_mismatch_is_refused(domu: DomU) -> None:
    here = Placement(frozenset(), {"test-disk": 4096.0}, frozenset())
    with pytest.raises(Refused, match="test-disk exists here with 4096 MiB but ha1 has 5120"):
        plan_peer_lvs((domu,), "ha2", here, {"ha1": SIZES}, "vg", dry_run=False)


def test_peer_lvs_without_home_sizes_predict_in_a_dry_run_only(domu: DomU) -> None:
    plan = plan_peer_lvs((domu,), "ha2", NOTHING, {}, "vg", dry_run=True)
    assert list(plan.actions) == [CreateLV("test-disk", "vg", 5120.0),
                                  CreateLV("test-swap", "vg", 384.0)]
    assert plan.predictions == (
        "predicted (ha1 did not report the sizes of test's LVs): 5Gb and 384Mb",)
    with pytest.raises(StepFailed, match="ha1 did not report the sizes"):
        plan_peer_lvs((domu,), "ha2", NOTHING, {}, "vg", dry_run=False)


def test_home_node_makes_no_peer_lvs(domu: DomU) -> None:
    plan = plan_peer_lvs((domu,), "ha1", IMAGE, {"ha1": SIZES}, "vg", dry_run=False)
    assert not plan and plan.notes == ("every DomU has this node as home",)


# first boot -----------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "here", "peer", "message"), [
    ("peer unknown (--limit)", IMAGE, None, "cannot tell whether test runs on ha2"),
    ("runs on the peer", IMAGE, RUNNING, "test is running on ha2: starting it here too"),
    ("runs here already", RUNNING, NOTHING, "test is already running here"),
])
def test_first_boot_refusals(domu: DomU, case: str, here: Placement, peer: Placement | None,
                             message: str) -> None:
    with pytest.raises(Refused, match=message):
        plan_first_boot(domu, False, here, peer, "ha2")


def test_first_boot_plans_once(domu: DomU) -> None:
    assert list(plan_first_boot(domu, False, IMAGE, NOTHING, "ha2").actions) == [BootTest(domu)]
    assert not plan_first_boot(domu, True, IMAGE, RUNNING, "ha2")


# placement from what the node printed ---------------------------------------------------
XM_DOM0 = ("Name                                        ID   Mem VCPUs      State   Time(s)\n"
           "Domain-0                                     0   512     2     r-----     10.0\n")
LVS_TEST = ("  test-disk|vg|5120.00\n  test-swap|vg|384.00\n", 0)


def read(answers: dict[Fact[Any], tuple[str, int]]) -> Facts:
    return Facts("ha1", {f.name: CommandResult("ha1", f.command, out, "", rc, 0.0)
                         for f, (out, rc) in answers.items()})


def answers(domu: DomU, **change: tuple[str, int]) -> dict[Fact[Any], tuple[str, int]]:
    given: dict[Fact[Any], tuple[str, int]] = {
        XM_LIST: (XM_DOM0, 0), LVS: LVS_TEST, cfg_exists(domu): ("", 0),
        UNAME_R: ("2.6.24-19-xen\n", 0),
        packages(["lvm2"]): ("lvm2\tinstall ok installed\t2.02.26\n", 0)}
    named: dict[str, Fact[Any]] = {"xm": XM_LIST, "lvs": LVS, "uname": UNAME_R,
                                   "lvm2": packages(["lvm2"]), "cfg": cfg_exists(domu)}
    given.update({named[k]: v for k, v in change.items()})
    assert set(given) >= set(placement_facts((domu,)))
    return given


def test_placement_of_a_built_node(domu: DomU) -> None:
    assert placement_from(read(answers(domu)), (domu,), "vg", "-xen", False) == (IMAGE, [])


def test_placement_before_xen_predicts_in_a_dry_run_only(domu: DomU) -> None:
    fresh = answers(domu, xm=("", 127), lvs=("", 127), uname=("2.6.24-19-server\n", 0),
                    lvm2=("", 1), cfg=("", 1))
    where, predictions = placement_from(read(fresh), (domu,), "vg", "-xen", True)
    assert where == NOTHING and predictions == [
        "predicted (not running the Xen kernel (2.6.24-19-server)): no DomU runs here",
        "predicted (lvm2 is not installed): no LV exists here"]
    with pytest.raises(StepFailed, match="not running the Xen kernel"):
        placement_from(read(fresh), (domu,), "vg", "-xen", False)


def test_a_running_domu_is_seen_even_when_lvs_are_predicted(domu: DomU) -> None:
    xm = XM_DOM0 + f"{'test':<44}  3   384     1     -b----      1.0\n"
    where, predictions = placement_from(read(answers(domu, xm=(xm, 0), lvm2=("", 1))), (domu,),
                                        "vg", "-xen", True)
    assert where == Placement(frozenset({"test"}), {}, frozenset({"test"}))
    assert predictions == ["predicted (lvm2 is not installed): no LV exists here"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_failing_xm_list_on_the_xen_kernel_is_an_error_even_in_a_dry_run(
        domu: DomU, dry_run: bool) -> None:
    broken = answers(domu, xm=("", 1))
    with pytest.raises(FactFailed, match="xm list"):
        placement_from(read(broken), (domu,), "vg", "-xen", dry_run)


def test_garbled_xm_list_is_unparsable(domu: DomU) -> None:
    with pytest.raises(FactUnparsable, match="xm list"):
        placement_from(read(answers(domu, xm=("Segmentation fault\n", 0))), (domu,), "vg",
                       "-xen", False)
