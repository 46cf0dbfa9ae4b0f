"""parse_metadata: labels / tags in, ModelMetadata or every violation out."""

from __future__ import annotations

import pytest

from shared.domain.catalog import RiskTier
from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.labels import MAX_LABELS, parse_metadata
from shared.domain.metadata.model import ArtifactKind, ModelMetadata
from shared.domain.metadata.rollout import BlueGreen, Canary, Rolling, Shadow
from shared.domain.metadata.serving import AmlServing, ImageServing, Resources

IMAGE = ArtifactKind.IMAGE
AML = ArtifactKind.AML_MODEL
CANARY_KEYS = ("ai.clearance.rollout.canary.steps", "ai.clearance.rollout.canary.bake-minutes")


def _problems(labels: dict[str, str], **kwargs: object) -> set[tuple[str, str | None]]:
    kwargs.setdefault("kind", IMAGE)
    with pytest.raises(InputError) as caught:
        parse_metadata(labels, **kwargs)  # type: ignore[arg-type]
    return {(v.code, v.field) for v in caught.value.violations}


def _with_strategy(labels: dict[str, str], strategy: str, **params: str) -> dict[str, str]:
    result = {k: v for k, v in labels.items() if k not in CANARY_KEYS}
    result["ai.clearance.rollout.strategy"] = strategy
    result.update({f"ai.clearance.rollout.{strategy}.{k}": v for k, v in params.items()})
    return result


def test_image_labels_become_the_declared_metadata(image_labels: dict[str, str]) -> None:
    metadata = parse_metadata(image_labels, kind=IMAGE)

    assert metadata == ModelMetadata(
        name="fraud-detector",
        version="1.4.2",
        owner="ada@example.com",
        regions=("westeurope", "swedencentral"),
        residency="EU",
        risk_tier=RiskTier.HIGH,
        rollout=Canary(steps=(10, 50, 100), bake_minutes=15),
        serving=ImageServing(
            port=8080, health_path="/healthz", resources=Resources(cpu="500m", memory="1Gi")
        ),
    )
    assert metadata.kind is IMAGE


@pytest.mark.parametrize(
    ("strategy", "params", "expected"),
    [
        ("rolling", {}, Rolling()),
        (
            "rolling",
            {"max-surge": "1", "max-unavailable": "25%"},
            Rolling(max_surge=1, max_unavailable="25%"),
        ),
        ("blue-green", {}, BlueGreen(keep_previous_minutes=30)),
        ("blue-green", {"keep-previous-minutes": "0"}, BlueGreen(keep_previous_minutes=0)),
        ("canary", {"steps": "5, 25, 100"}, Canary(steps=(5, 25, 100), bake_minutes=10)),
        ("shadow", {"mirror-percent": "20"}, Shadow(mirror_percent=20, duration_minutes=60)),
        (
            "shadow",
            {"mirror-percent": "100", "duration-minutes": "10080"},
            Shadow(mirror_percent=100, duration_minutes=10080),
        ),
    ],
)
def test_every_strategy_parses_with_its_parameters(
    image_labels: dict[str, str], strategy: str, params: dict[str, str], expected: object
) -> None:
    labels = _with_strategy(image_labels, strategy, **params)

    assert parse_metadata(labels, kind=IMAGE).rollout == expected


def test_aml_model_takes_name_and_version_from_its_registration(aml_tags: dict[str, str]) -> None:
    metadata = parse_metadata(aml_tags, kind=AML, name="churn-model", version="3")

    assert (metadata.name, metadata.version, metadata.kind) == ("churn-model", "3", AML)
    assert metadata.serving == AmlServing(instance_type="gpu-small", instance_count=2)
    assert metadata.rollout == BlueGreen()


def test_aml_model_defaults_to_one_instance_of_the_default_type(aml_tags: dict[str, str]) -> None:
    del aml_tags["ai.clearance.serving.instance-type"]
    del aml_tags["ai.clearance.serving.instance-count"]

    metadata = parse_metadata(aml_tags, kind=AML, name="churn-model", version="3")

    assert metadata.serving == AmlServing(instance_type=None, instance_count=1)


def test_aml_tags_that_agree_with_the_registration_are_accepted(aml_tags: dict[str, str]) -> None:
    aml_tags["ai.clearance.model.name"] = "churn-model"
    aml_tags["org.opencontainers.image.version"] = "3"

    assert parse_metadata(aml_tags, kind=AML, name="churn-model", version="3").name == "churn-model"


def test_aml_tags_that_disagree_with_the_registration_conflict(aml_tags: dict[str, str]) -> None:
    aml_tags["ai.clearance.model.name"] = "churn-model"
    aml_tags["org.opencontainers.image.version"] = "1.0.0"

    with pytest.raises(InputError) as caught:
        parse_metadata(aml_tags, kind=AML, name="churn-modle", version="3")

    assert [(v.code, v.field) for v in caught.value.violations] == [
        (IntakeCode.META_CONFLICT, "ai.clearance.model.name"),
        (IntakeCode.META_CONFLICT, "org.opencontainers.image.version"),
    ]
    assert caught.value.violations[0].message == (
        'The tag ai.clearance.model.name says "churn-model", but the model is registered with '
        'model name "churn-modle"; remove the tag or make it match.'
    )


def test_an_invalid_registration_name_is_reported_on_the_name_key(
    aml_tags: dict[str, str],
) -> None:
    assert _problems(aml_tags, kind=AML, name="Churn_Model", version="3") == {
        (IntakeCode.META_INVALID, "ai.clearance.model.name")
    }


def test_aml_model_without_registration_needs_name_and_version_tags(
    aml_tags: dict[str, str],
) -> None:
    assert _problems(aml_tags, kind=AML, name="", version=None) == {
        (IntakeCode.META_MISSING, "ai.clearance.model.name"),
        (IntakeCode.META_MISSING, "org.opencontainers.image.version"),
    }


def test_optional_fields_are_carried_verbatim(image_labels: dict[str, str]) -> None:
    image_labels |= {
        "ai.clearance.team": "payments-ml",
        "org.opencontainers.image.description": 'Scores <b>payments</b> {"a": 1} - key: [v] &x *y',
        "org.opencontainers.image.source": "https://github.com/contoso/fraud-detector",
        "org.opencontainers.image.revision": "3f2c9e1",
        "ai.clearance.resources.cpu-limit": "1",
        "ai.clearance.resources.memory-limit": "2G",
    }

    metadata = parse_metadata(image_labels, kind=IMAGE)

    assert metadata.team == "payments-ml"
    assert metadata.description == 'Scores <b>payments</b> {"a": 1} - key: [v] &x *y'
    assert metadata.source == "https://github.com/contoso/fraud-detector"
    assert metadata.revision == "3f2c9e1"
    assert isinstance(metadata.serving, ImageServing)
    assert metadata.serving.resources.cpu_limit == "1"
    assert metadata.serving.resources.memory_limit == "2G"


def test_an_empty_value_counts_as_absent(image_labels: dict[str, str]) -> None:
    image_labels["ai.clearance.team"] = ""
    assert parse_metadata(image_labels, kind=IMAGE).team is None

    image_labels["ai.clearance.owner"] = ""
    assert _problems(image_labels) == {(IntakeCode.META_MISSING, "ai.clearance.owner")}


def test_keys_outside_the_prefix_are_ignored_even_when_hostile(
    image_labels: dict[str, str],
) -> None:
    image_labels |= {
        "org.opencontainers.image.authors": "someone-else@example.com",
        "com.example.notes": "line one\nline two\x1b[31m" + "x" * 5000,
        "description": "<script>alert(1)</script>",
    }

    assert parse_metadata(image_labels, kind=IMAGE).owner == "ada@example.com"


def test_the_authors_label_is_not_the_owner(image_labels: dict[str, str]) -> None:
    del image_labels["ai.clearance.owner"]
    image_labels["org.opencontainers.image.authors"] = "ada@example.com"

    assert _problems(image_labels) == {(IntakeCode.META_MISSING, "ai.clearance.owner")}


def test_too_many_labels_are_refused_before_anything_else(image_labels: dict[str, str]) -> None:
    labels = image_labels | {f"com.example.l{i}": "x" for i in range(MAX_LABELS)}

    with pytest.raises(InputError) as caught:
        parse_metadata(labels, kind=IMAGE)

    assert [v.code for v in caught.value.violations] == [IntakeCode.META_TOO_MANY]


def test_overlong_keys_and_values_are_refused(image_labels: dict[str, str]) -> None:
    image_labels |= {
        "com.example." + "k" * 300: "x",
        "org.opencontainers.image.description": "d" * 1025,
        "ai.clearance.team": "t" * 64,
    }

    problems = _problems(image_labels)

    assert (IntakeCode.META_TOO_LONG, "org.opencontainers.image.description") in problems
    assert (IntakeCode.META_INVALID, "ai.clearance.team") in problems
    assert {code for code, field in problems if field and field.startswith("com.example.k")} == {
        IntakeCode.META_TOO_LONG
    }


def test_per_key_length_limits_are_reported_as_too_long(image_labels: dict[str, str]) -> None:
    image_labels["org.opencontainers.image.description"] = "d" * 501
    image_labels["org.opencontainers.image.version"] = "1" * 65

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    assert {(v.code, v.field, v.message) for v in caught.value.violations} == {
        (
            IntakeCode.META_TOO_LONG,
            "org.opencontainers.image.description",
            "The description is 501 characters long; it is limited to 500.",
        ),
        (
            IntakeCode.META_TOO_LONG,
            "org.opencontainers.image.version",
            "The model version is 65 characters long; it is limited to 64.",
        ),
    }


@pytest.mark.parametrize(
    "char", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u200b", "\u202e", "\u2028"]
)
def test_control_and_invisible_characters_are_refused(
    image_labels: dict[str, str], char: str
) -> None:
    image_labels["org.opencontainers.image.description"] = f"harmless{char}text"

    assert _problems(image_labels) == {
        (IntakeCode.META_CONTROL_CHAR, "org.opencontainers.image.description")
    }


def test_unknown_keys_under_the_prefix_are_refused_with_a_suggestion(
    image_labels: dict[str, str],
) -> None:
    image_labels["ai.clearance.regoins"] = "westeurope"
    image_labels["AI.Clearance.Owner"] = "ada@example.com"
    image_labels["ai.clearance.gpu"] = "1"

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    assert {v.field: v.message for v in caught.value.violations} == {
        "ai.clearance.regoins": "Clearance does not know the label ai.clearance.regoins. "
        "Did you mean ai.clearance.regions?",
        "AI.Clearance.Owner": "Clearance does not know the label AI.Clearance.Owner. "
        "Did you mean ai.clearance.owner?",
        "ai.clearance.gpu": "Clearance does not know the label ai.clearance.gpu.",
    }
    assert {v.code for v in caught.value.violations} == {IntakeCode.META_UNKNOWN_KEY}


def test_unknown_keys_are_shown_with_control_characters_escaped(
    image_labels: dict[str, str],
) -> None:
    image_labels["ai.clearance.\x1b[31mred"] = "x"

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    (violation,) = caught.value.violations
    assert violation.field == "ai.clearance.\\u001b[31mred"
    assert "\x1b" not in violation.message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ai.clearance.model.name", "Fraud-Detector"),
        ("ai.clearance.model.name", "fraud_detector"),
        ("ai.clearance.model.name", "fraud-"),
        ("ai.clearance.model.name", "9fraud"),
        ("ai.clearance.model.name", "f" * 64),
        ("ai.clearance.model.name", "fraud: {a: 1}"),
        ("ai.clearance.model.name", "../../etc"),
        ("org.opencontainers.image.version", "1.0 beta"),
        ("org.opencontainers.image.version", "1/2"),
        ("org.opencontainers.image.version", "-1"),
        ("org.opencontainers.image.version", "{{ .Version }}"),
        ("ai.clearance.owner", "ada"),
        ("ai.clearance.owner", "Ada <ada@example.com>"),
        ("ai.clearance.owner", "ada@example.com,bob@example.com"),
        ("ai.clearance.regions", '["westeurope"]'),
        ("ai.clearance.regions", "westeurope,,swedencentral"),
        ("ai.clearance.regions", "westeurope,westeurope"),
        ("ai.clearance.regions", "West Europe"),
        ("ai.clearance.residency", "eu"),
        ("ai.clearance.risk-tier", "extreme"),
        ("ai.clearance.team", "Payments"),
        ("org.opencontainers.image.source", "http://github.com/contoso/x"),
        ("org.opencontainers.image.source", "javascript:alert(1)"),
        ("org.opencontainers.image.source", "https://github.com/contoso/x?ref=main"),
        ("org.opencontainers.image.revision", "abc def"),
        ("ai.clearance.rollout.strategy", "blue_green"),
        ("ai.clearance.rollout.strategy", "Canary"),
        ("ai.clearance.rollout.canary.steps", "100"),
        ("ai.clearance.rollout.canary.steps", "50,10,100"),
        ("ai.clearance.rollout.canary.steps", "10,10,100"),
        ("ai.clearance.rollout.canary.steps", "10,50"),
        ("ai.clearance.rollout.canary.steps", "0,100"),
        ("ai.clearance.rollout.canary.steps", "10,50,101"),
        ("ai.clearance.rollout.canary.steps", "10,half,100"),
        ("ai.clearance.rollout.canary.steps", "1,2,3,4,5,6,7,8,9,10,100"),
        ("ai.clearance.rollout.canary.bake-minutes", "0"),
        ("ai.clearance.rollout.canary.bake-minutes", "1.5"),
        ("ai.clearance.serving.port", "80"),
        ("ai.clearance.serving.port", "65536"),
        ("ai.clearance.serving.port", "8080.0"),
        ("ai.clearance.serving.port", "+8080"),
        ("ai.clearance.serving.port", " 8080"),
        ("ai.clearance.serving.port", "0x1f90"),
        ("ai.clearance.serving.port", "8_080"),
        ("ai.clearance.serving.health-path", "healthz"),
        ("ai.clearance.serving.health-path", "/health/../admin"),
        ("ai.clearance.serving.health-path", "//healthz"),
        ("ai.clearance.serving.health-path", "/health z"),
        ("ai.clearance.serving.health-path", "/healthz?full=1"),
        ("ai.clearance.resources.cpu", "0"),
        ("ai.clearance.resources.cpu", "0m"),
        ("ai.clearance.resources.cpu", "1.2345"),
        ("ai.clearance.resources.cpu", "1e3"),
        ("ai.clearance.resources.memory", "512m"),
        ("ai.clearance.resources.memory", "0"),
        ("ai.clearance.resources.memory", "0.0Gi"),
        ("ai.clearance.resources.memory", "1.5gi"),
        ("ai.clearance.resources.memory", "1e9"),
        ("ai.clearance.resources.memory", ".5Gi"),
        ("ai.clearance.resources.memory", "1gi"),
        ("ai.clearance.resources.cpu-limit", "100m"),
        ("ai.clearance.resources.memory-limit", "1000Mi"),
    ],
)
def test_invalid_values_are_refused_on_their_key(
    image_labels: dict[str, str], key: str, value: str
) -> None:
    image_labels[key] = value

    assert _problems(image_labels) == {(IntakeCode.META_INVALID, key)}


@pytest.mark.parametrize(
    ("strategy", "params", "key"),
    [
        ("rolling", {"max-surge": "-1"}, "ai.clearance.rollout.rolling.max-surge"),
        ("rolling", {"max-surge": "150%"}, "ai.clearance.rollout.rolling.max-surge"),
        (
            "rolling",
            {"max-surge": "0", "max-unavailable": "0%"},
            "ai.clearance.rollout.rolling.max-unavailable",
        ),
        (
            "blue-green",
            {"keep-previous-minutes": "1441"},
            "ai.clearance.rollout.blue-green.keep-previous-minutes",
        ),
        ("shadow", {"mirror-percent": "0"}, "ai.clearance.rollout.shadow.mirror-percent"),
        (
            "shadow",
            {"mirror-percent": "5", "duration-minutes": "0"},
            "ai.clearance.rollout.shadow.duration-minutes",
        ),
    ],
)
def test_invalid_strategy_parameters_are_refused_on_their_key(
    image_labels: dict[str, str], strategy: str, params: dict[str, str], key: str
) -> None:
    labels = _with_strategy(image_labels, strategy, **params)

    assert _problems(labels) == {(IntakeCode.META_INVALID, key)}


def test_invalid_values_are_explained_in_owner_terms(image_labels: dict[str, str]) -> None:
    image_labels["ai.clearance.serving.port"] = "80"
    image_labels["ai.clearance.rollout.canary.steps"] = "10,50"

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    assert [str(v) for v in caught.value.violations] == [
        "CLR-META-INVALID [ai.clearance.rollout.canary.steps]: The canary step list must end "
        'at 100; got "10,50".',
        "CLR-META-INVALID [ai.clearance.serving.port]: The serving port must be a whole number "
        'from 1024 to 65535 (pods run as non-root); got "80".',
    ]


def test_long_offending_values_are_shown_shortened(image_labels: dict[str, str]) -> None:
    image_labels["ai.clearance.residency"] = "Z" * 1000

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    assert caught.value.violations[0].message.endswith(f'got "{"Z" * 60}…".')


@pytest.mark.parametrize(
    "missing",
    [
        "ai.clearance.model.name",
        "org.opencontainers.image.version",
        "ai.clearance.owner",
        "ai.clearance.regions",
        "ai.clearance.residency",
        "ai.clearance.risk-tier",
        "ai.clearance.rollout.strategy",
        "ai.clearance.rollout.canary.steps",
        "ai.clearance.serving.port",
        "ai.clearance.serving.health-path",
        "ai.clearance.resources.cpu",
        "ai.clearance.resources.memory",
    ],
)
def test_required_keys_are_reported_missing(image_labels: dict[str, str], missing: str) -> None:
    del image_labels[missing]

    assert _problems(image_labels) == {(IntakeCode.META_MISSING, missing)}


def test_a_missing_key_says_what_to_add(image_labels: dict[str, str]) -> None:
    del image_labels["ai.clearance.serving.port"]

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    assert caught.value.violations[0].message == (
        "The serving port is required for container images; add the label "
        "ai.clearance.serving.port, for example ai.clearance.serving.port=8080."
    )


def test_image_only_keys_do_not_apply_to_aml_models(aml_tags: dict[str, str]) -> None:
    aml_tags["ai.clearance.serving.port"] = "8080"
    aml_tags["ai.clearance.resources.memory"] = "1Gi"

    assert _problems(aml_tags, kind=AML, name="churn-model", version="3") == {
        (IntakeCode.META_NOT_APPLICABLE, "ai.clearance.serving.port"),
        (IntakeCode.META_NOT_APPLICABLE, "ai.clearance.resources.memory"),
    }


def test_aml_only_keys_do_not_apply_to_images(image_labels: dict[str, str]) -> None:
    image_labels["ai.clearance.serving.instance-count"] = "2"

    assert _problems(image_labels) == {
        (IntakeCode.META_NOT_APPLICABLE, "ai.clearance.serving.instance-count")
    }


def test_parameters_of_another_strategy_do_not_apply(image_labels: dict[str, str]) -> None:
    image_labels["ai.clearance.rollout.shadow.mirror-percent"] = "10"

    with pytest.raises(InputError) as caught:
        parse_metadata(image_labels, kind=IMAGE)

    (violation,) = caught.value.violations
    assert violation.code == IntakeCode.META_NOT_APPLICABLE
    assert violation.message == (
        "The mirrored traffic share applies to the shadow strategy only, but the rollout "
        "strategy is canary; remove the label ai.clearance.rollout.shadow.mirror-percent."
    )


def test_without_a_valid_strategy_only_the_strategy_is_reported(
    image_labels: dict[str, str],
) -> None:
    image_labels["ai.clearance.rollout.strategy"] = "yolo"

    assert _problems(image_labels) == {(IntakeCode.META_INVALID, "ai.clearance.rollout.strategy")}


def test_every_violation_is_reported_together(image_labels: dict[str, str]) -> None:
    del image_labels["ai.clearance.owner"]
    image_labels |= {
        "ai.clearance.model.name": "Fraud Detector",
        "ai.clearance.serving.port": "443",
        "ai.clearance.team": "pay\nments",
        "ai.clearance.regoins": "westeurope",
        "ai.clearance.serving.instance-type": "gpu-small",
        "ai.clearance.rollout.shadow.mirror-percent": "10",
        "org.opencontainers.image.description": "d" * 2000,
    }

    assert _problems(image_labels) == {
        (IntakeCode.META_MISSING, "ai.clearance.owner"),
        (IntakeCode.META_INVALID, "ai.clearance.model.name"),
        (IntakeCode.META_INVALID, "ai.clearance.serving.port"),
        (IntakeCode.META_CONTROL_CHAR, "ai.clearance.team"),
        (IntakeCode.META_UNKNOWN_KEY, "ai.clearance.regoins"),
        (IntakeCode.META_NOT_APPLICABLE, "ai.clearance.serving.instance-type"),
        (IntakeCode.META_NOT_APPLICABLE, "ai.clearance.rollout.shadow.mirror-percent"),
        (IntakeCode.META_TOO_LONG, "org.opencontainers.image.description"),
    }


def test_each_key_gets_one_violation(image_labels: dict[str, str]) -> None:
    image_labels["ai.clearance.regions"] = "Mars,Venus,Mars"

    assert _problems(image_labels) == {(IntakeCode.META_INVALID, "ai.clearance.regions")}
