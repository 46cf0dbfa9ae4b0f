"""What a terminal intake rejection covers: the artifact's own digest and, for an image index,
every platform manifest it contains.

The invariant (enforced by ``shared.services.intake.invariant``): an artifact with a terminal
rejection, by its own digest or through any index containing it, has no open approval request
and no deployment. A registry push of a multi-platform image (``docker buildx``, ``skopeo copy
--all``) sends the platform manifests first and the index last, so a platform manifest can be
validated and requested before its index is rejected; the rejection then reaches back.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import ArtifactRef, Reason


@dataclass(frozen=True)
class Rejection:
    """Why an artifact may never be approved or deployed."""

    rejected: str  # the artifact key that was rejected (the index for a covered child)
    codes: tuple[str, ...]
    event_id: str
    via_index: str | None = None  # the index digest when the rejection reached a child

    def reason_for(self, artifact: ArtifactRef, found_for: str) -> Reason:
        """Why ``artifact`` is refused, when the rejection was found on ``found_for`` (the key
        of one of its platform manifests, or its own key)."""
        if found_for == artifact.key:
            return self.reason()
        digest = found_for.rsplit("|", 1)[-1]
        codes = ", ".join(self.codes) or "rejected"
        return Reason(
            code=WITHDRAWN_CODE,
            message=(
                f"Its platform image {digest} is part of the image index {self.via_index}, "
                f"which was rejected ({codes}); a rejected image is never deployed, through any "
                "index. Rebuild it with a new version."
            ),
        )

    def reason(self) -> Reason:
        codes = ", ".join(self.codes) or "rejected"
        if self.via_index:
            text = (
                f"This image is part of the image index {self.via_index}, which was rejected "
                f"({codes}); nothing in a rejected index is approved or deployed."
            )
        else:
            text = f"This artifact was rejected at intake ({codes}); it is never deployed."
        return Reason(code=WITHDRAWN_CODE, message=text)


WITHDRAWN_CODE = IntakeCode.INTAKE_INDEX_REJECTED


def covered(artifact: ArtifactRef, platform_digests: tuple[str, ...]) -> tuple[ArtifactRef, ...]:
    """The artifact and, for an index, each of its platform manifests (same repository)."""
    children = tuple(
        artifact.model_copy(update={"digest": d, "tag": None})
        for d in platform_digests
        if d != artifact.digest
    )
    return (artifact, *children)
