"""The cost model (``cost:`` in bundle.yaml): lint in words with the pointer, and the one estimate function."""

import shutil
from decimal import Decimal

import pytest
import yaml
from django.conf import settings

from bundles.cost import cost_problems, money, monthly_estimate
from bundles.loader import BundleError, read_bundle
from deployments import services

SCHEMA = {
    "type": "object",
    "properties": {
        "size": {"type": "string", "title": "Size", "enum": ["small", "large"], "default": "small"},
        "storage": {
            "type": "object",
            "properties": {"gb": {"type": "integer", "title": "Storage", "x-unit": "GiB", "default": 20}},
        },
        "ha": {"type": "boolean", "title": "High availability", "default": False},
        "replicas": {"type": "integer", "title": "Copies", "default": 1},
        "password": {"type": "string", "x-sensitive": True},
    },
}
COST = {
    "currency": "USD",
    "base": 5,
    "prices": {"size": {"small": 40, "large": 160}},
    "per_unit": {"/storage/gb": 0.1},
    "multipliers": {"ha": 2, "replicas": "value"},
}


def test_the_estimate_follows_the_params():
    assert monthly_estimate(COST, SCHEMA, {}).amount == Decimal("47.00")  # (5 + 40 + 20 * 0.1) defaults
    both = {"size": "large", "storage": {"gb": 100}, "ha": True, "replicas": 3}
    assert monthly_estimate(COST, SCHEMA, both).amount == Decimal("1050.00")  # (5 + 160 + 10) * 2 * 3
    assert monthly_estimate(COST, SCHEMA, {"ha": False, "replicas": 2}).amount == Decimal("94.00")


def test_a_bundle_without_a_cost_model_has_no_estimate():
    assert monthly_estimate({}, SCHEMA, {"size": "large"}) is None


def test_a_sound_cost_model_has_no_problems():
    assert cost_problems(COST, SCHEMA) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["prices"].update(colour={"red": 1}),
            "bundle.yaml /cost/prices/colour: there is no param 'colour' in /params",
        ),
        (
            lambda c: c["prices"]["size"].update(huge=900),
            "bundle.yaml /cost/prices/size/huge: 'huge' is not a value of Size (its values are large, small)",
        ),
        (lambda c: c["prices"]["size"].pop("large"), "bundle.yaml /cost/prices/size: no price for Size 'large'"),
        (
            lambda c: c["prices"].update(ha={"true": 1}),
            "bundle.yaml /cost/prices/ha: High availability is not an enum, so it has no values to price",
        ),
        (
            lambda c: c["per_unit"].update(size=2),
            "bundle.yaml /cost/per_unit/size: Size is not a number, so it has no units to price",
        ),
        (
            lambda c: c["per_unit"].update({"/storage/tb": 2}),
            "bundle.yaml /cost/per_unit/~1storage~1tb: there is no param '/storage/tb' in /params",
        ),
        (
            lambda c: c["multipliers"].update(ha="double"),
            "bundle.yaml /cost/multipliers/ha: High availability is on or off, so its multiplier is a number",
        ),
        (
            lambda c: c["multipliers"].update(replicas=3),
            "bundle.yaml /cost/multipliers/replicas: Copies is a number; its multiplier is the word value",
        ),
        (
            lambda c: c["per_unit"].update(password=1),
            "bundle.yaml /cost/per_unit/password: Password is sensitive; a cost cannot read a secret",
        ),
        (lambda c: c.update(currency="dollars"), "bundle.yaml /cost/currency: 'dollars' is not a three-letter"),
    ],
)
def test_lint_names_each_wrong_reference_in_words_with_its_pointer(change, message):
    cost = yaml.safe_load(yaml.safe_dump(COST))
    change(cost)
    problems = cost_problems(cost, SCHEMA)
    assert any(p.startswith(message) for p in problems), problems


def test_a_bundle_whose_cost_names_a_missing_param_is_refused(tmp_path):
    path = tmp_path / "postgres"
    shutil.copytree(settings.SLIPWAY_CATALOG_DIR / "postgres" / "2.4.0", path)
    data = yaml.safe_load((path / "bundle.yaml").read_text())
    data["cost"]["per_unit"]["disk_gb"] = 0.1
    (path / "bundle.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(BundleError) as caught:
        read_bundle(path)
    assert any("/cost/per_unit/disk_gb: there is no param 'disk_gb'" in p for p in caught.value.problems)


def test_money_reads_like_a_price():
    assert money(Decimal("374.00")) == "$374"
    assert money(Decimal("54.3")) == "$54.30"
    assert money(Decimal("1200"), signed=True) == "+$1,200"
    assert money(Decimal("-210"), signed=True) == "-$210"
    assert money(Decimal("12.5"), "CHF") == "12.50 CHF"


@pytest.mark.django_db
def test_the_catalog_prices_its_presets(catalog):
    postgres = catalog["postgres"]
    assert postgres.version >= "2.4.0" and postgres.cost["currency"] == "USD"
    production = postgres.preset("Production (~$380/month)")["params"]
    assert str(postgres.monthly_estimate(production)) == "$374"
    for name in ("object-storage", "queue", "web-service"):
        assert catalog[name].version == "2.4.0" and catalog[name].monthly_estimate({}) is not None


@pytest.mark.django_db
def test_a_deployment_keeps_its_estimate_with_its_params_and_history(catalog, proto_env, dev):
    deployment = services.deployment_create(
        environment=proto_env, name="db", bundle_version=catalog["postgres"], params={"size": "small"}, actor=dev
    )
    assert (deployment.monthly_cost, deployment.cost_currency) == (Decimal("54.30"), "USD")
    services.deployment_update(deployment=deployment, params={"size": "large", "storage_gb": 20}, actor=dev)
    deployment.refresh_from_db()
    assert deployment.monthly_cost == Decimal("309.30")  # 300 + 20 * 0.115 + 7 days of backups
    assert [h.monthly_cost for h in deployment.history.order_by("history_date")] == [
        Decimal("54.30"),
        Decimal("309.30"),
    ]
