"""The decision's checkpoint, off the vote's thread: asked at once, signed soon, shared."""

from __future__ import annotations

import threading
import time

import pytest

from shared.services.lineage.heads import CheckpointSoon


def test_request_returns_at_once_and_flush_sees_the_checkpoint() -> None:
    signed: list[float] = []
    gate = threading.Event()

    def take(_: object) -> None:
        gate.wait(5)
        signed.append(time.monotonic())

    soon = CheckpointSoon(take, delay=0.0)
    start = time.monotonic()
    soon.request()
    assert time.monotonic() - start < 0.1 and signed == []  # the caller never waits for it
    assert not soon.flush(timeout=0.2)  # not yet signed: flush says so
    gate.set()
    assert soon.flush(timeout=5) and len(signed) == 1


def test_decisions_close_together_share_one_checkpoint() -> None:
    runs: list[int] = []
    soon = CheckpointSoon(lambda _: runs.append(1), delay=0.3)
    for _ in range(10):
        soon.request()
    assert soon.flush(timeout=5)
    assert len(runs) == 1  # one Key Vault signature for ten decisions


def test_a_request_during_a_run_gets_a_run_of_its_own() -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def take(_: object) -> None:
        runs.append(1)
        started.set()
        release.wait(5)

    soon = CheckpointSoon(take, delay=0.0)
    soon.request()
    assert started.wait(5)
    soon.request()  # a decision whose records the running checkpoint may have missed
    release.set()
    assert soon.flush(timeout=5)
    assert len(runs) == 2


def test_a_failing_checkpoint_is_logged_and_the_next_request_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def take(_: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("key vault unavailable")

    soon = CheckpointSoon(take, delay=0.0)
    soon.request()
    assert soon.flush(timeout=5)  # done: the failure is the timer's to make good
    assert "checkpoint after a decision failed" in caplog.text
    soon.request()
    assert soon.flush(timeout=5) and len(calls) == 2


def test_the_chains_asked_for_are_signed_together_and_a_request_naming_none_means_all() -> None:
    started, release = threading.Event(), threading.Event()
    taken: list[frozenset[str] | None] = []

    def take(chains: frozenset[str] | None) -> None:
        taken.append(chains)
        started.set()
        release.wait(5)

    soon = CheckpointSoon(take, delay=0.2)
    soon.request("a")
    soon.request("b")
    soon.request("a")
    assert started.wait(5)
    soon.request("c")  # asked while the run for a and b signs: the next run's
    started.clear()
    release.set()
    assert started.wait(5)
    soon.request(None)  # the timer's kind of run: every chain
    soon.request("d")
    assert soon.flush(timeout=5)
    assert taken == [frozenset({"a", "b"}), frozenset({"c"}), None]
