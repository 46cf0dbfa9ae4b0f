"""Before every deployment step the image's signature is re-verified against today's policy:
a key revoked (or removed) after the approval stops the rollout with a recorded reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode
from shared.domain.errors import TransientError
from shared.domain.lineage.record import RecordKind
from shared.domain.supply_chain.policy import RegionSupplyChain
from shared.local.signing import SigningKey, sign_image
from shared.services.deploy.rollouts import DeployOutcome
from shared.services.deploy.supply_chain import recheck
from tests.support import deploy_samples as s
from tests.support.deploy_world import World
from tests.support.fakes import FakeRegistry
from tests.support.supply_chain import keys, required


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SigningKey]:
    return keys(Path(tmp_path_factory.mktemp("keys")))


def with_policy(cell: RegionEntry, **policy: object) -> RegionEntry:
    return cell.model_copy(update={"supply_chain": RegionSupplyChain(by_risk_tier=policy)})


class Setup:
    def __init__(self, cell: RegionEntry, signing: dict[str, SigningKey]) -> None:
        self.registry = FakeRegistry()
        self.cell = with_policy(cell, high=required(signing))
        self.world = World(self.cell)
        self.world.deps.supply_chain = lambda plan: recheck(self.registry, self.cell, plan)
        first = s.image_request(cell, s.image_metadata("rolling", "1"))
        self.request = s.image_request(cell, s.image_metadata("canary", "2"))
        for request in (first, self.request):
            digest = request.artifact.digest
            assert digest is not None
            # the image itself is not needed: signatures are looked up by its digest
            sign_image(self.registry, "models/fraud-detector", digest, signing["ci"])
        assert self.world.run(first)[-1] is DeployOutcome.SUCCEEDED  # v1 live: v2 is a canary
        self.world.lineage.records.clear()


def test_a_signed_image_rolls_out_and_each_step_records_the_recheck(
    cell: RegionEntry, signing: dict[str, SigningKey]
) -> None:
    setup = Setup(cell, signing)
    outcomes = setup.world.run(setup.request)
    assert outcomes[-1] is DeployOutcome.SUCCEEDED
    started = [r for r in setup.world.lineage.records if r.kind is RecordKind.DEPLOYMENT_STARTED]
    assert len(started) > 1
    assert all(r.details["supply_chain"] == "re-verified: signed by ci" for r in started)


def test_a_key_revoked_mid_rollout_stops_it_and_rolls_back(
    cell: RegionEntry, signing: dict[str, SigningKey]
) -> None:
    setup = Setup(cell, signing)
    world = setup.world
    world.delivered = len(world.bus.sent)
    assert world.deliver(setup.request) is DeployOutcome.STEPPED
    setup.cell = with_policy(cell, high=required(signing, revoked=("ci",)))  # incident response
    outcomes = world.drain()
    assert outcomes[0] is DeployOutcome.ROLLED_BACK
    rolled = next(r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK)
    assert rolled.reasons[0].code == DeployCode.SUPPLY_CHAIN
    assert "CLR-INTAKE-SIGNATURE-REVOKED" in rolled.reasons[0].message
    assert world.state().rollout is None


def test_a_signature_deleted_before_the_first_step_fails_without_change(
    cell: RegionEntry, signing: dict[str, SigningKey]
) -> None:
    setup = Setup(cell, signing)
    setup.registry.tags.clear()  # someone deleted the signature in the registry
    assert setup.world.run(setup.request) == [DeployOutcome.FAILED]
    failed = next(r for r in setup.world.lineage.records if r.kind is RecordKind.DEPLOYMENT_FAILED)
    assert failed.reasons[0].code == DeployCode.SUPPLY_CHAIN
    live = setup.world.state().live
    assert live is not None and live.metadata.version == "1"  # nothing changed
    assert setup.world.state().rollout is None


def test_an_unreachable_registry_retries_the_step(
    cell: RegionEntry, signing: dict[str, SigningKey]
) -> None:
    setup = Setup(cell, signing)
    setup.registry.unreachable = True
    with pytest.raises(TransientError):
        setup.world.deliver(setup.request)


def test_no_policy_means_no_registry_reads(cell: RegionEntry) -> None:
    registry = FakeRegistry()
    world = World(cell)
    world.deps.supply_chain = lambda plan: recheck(registry, cell, plan)
    assert world.run(s.image_request(cell))[-1] is DeployOutcome.SUCCEEDED
    assert registry.requests == []
