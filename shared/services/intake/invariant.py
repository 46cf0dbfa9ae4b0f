"""The invariant, in one place: a rejected artifact is never approved nor deployed.

An artifact with a terminal intake rejection, by its own digest or through any image index
that contains it, has no open approval request and no deployment. Intake records every
rejection here (the index and each platform manifest it contains) and withdraws open requests
of the covered artifacts; approvals check before opening and before deciding; the deployer
checks before every step. Checking on both sides of each write closes the races between a
platform manifest's request and its index's rejection, whatever order the events arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.domain.intake.rejection import Rejection, covered
from shared.domain.lineage.record import ArtifactRef, Reason
from shared.ports.intake import RejectionRegistry


def rejection_of(
    registry: RejectionRegistry | None, artifact: ArtifactRef, platform_digests: Sequence[str] = ()
) -> Rejection | None:
    found = find_rejection(registry, artifact, platform_digests)
    return found[0] if found else None


def refusal(
    registry: RejectionRegistry | None,
    artifact: ArtifactRef,
    platform_digests: Sequence[str] = (),
    known: Mapping[str, Rejection | None] | None = None,
) -> Reason | None:
    """The reason to give for refusing ``artifact``, if it is forbidden. ``known``: rejections
    by key already read (None: none on record), not read again."""
    found = find_rejection(registry, artifact, platform_digests, known)
    return found[0].reason_for(artifact, found[1]) if found else None


def find_rejection(
    registry: RejectionRegistry | None,
    artifact: ArtifactRef,
    platform_digests: Sequence[str] = (),
    known: Mapping[str, Rejection | None] | None = None,
) -> tuple[Rejection, str] | None:
    """The rejection that forbids ``artifact``: its own, or one that reached one of its
    platform manifests through a rejected index. A platform manifest rejected on its own (it
    lacked labels that only its index carries, say) does not decide for the index."""
    if registry is None or artifact.kind == "unknown":
        return None
    own, *children = covered(artifact, tuple(platform_digests))
    known = known or {}
    found = known[own.key] if own.key in known else registry.find(own.key)
    if found is not None:
        return found, own.key
    for ref in (own, *children):
        # A platform image of a rejected index, copied (same digest) to another repository.
        content = _content_key(ref)
        found = registry.find(content) if content else None
        if found is not None:
            return found, ref.key
    for ref in children:
        found = registry.find(ref.key)
        if found is not None and found.via_index is not None:
            return found, ref.key
    return None


def record_rejection(
    registry: RejectionRegistry | None,
    artifact: ArtifactRef,
    platform_digests: Sequence[str],
    reasons: Sequence[Reason],
    event_id: str,
) -> tuple[tuple[ArtifactRef, Rejection | None], ...]:
    """Record the rejection of ``artifact`` and of everything it contains; returns what it
    covers, the artifact first (their open requests must be withdrawn), each with the
    rejection now on record when it is this one (None: an earlier rejection was kept; read it)."""
    if registry is None or artifact.kind == "unknown":
        return ()
    if artifact.kind == "image" and not artifact.digest:
        return ()
    codes = tuple(dict.fromkeys(r.code for r in reasons))
    refs = covered(artifact, tuple(platform_digests))
    index = artifact.digest if len(refs) > 1 else None
    out: list[tuple[ArtifactRef, Rejection | None]] = []
    for ref in refs:
        via = index if ref is not artifact else None
        rejection = Rejection(artifact.key, codes, event_id, via_index=via)
        out.append((ref, rejection if registry.record(ref.key, rejection) else None))
        content = _content_key(ref)
        if via is not None and content:
            # The image itself is forbidden, whichever repository of the registry holds it.
            registry.record(content, Rejection(artifact.key, codes, event_id, via_index=via))
    return tuple(out)


def _content_key(ref: ArtifactRef) -> str | None:
    """The key of an image's content in its registry (any repository), for rejections that
    reached it through an index; None for anything else."""
    if ref.kind != "image" or not ref.digest or not ref.registry:
        return None
    return f"image-content|{ref.registry}|{ref.digest}"
