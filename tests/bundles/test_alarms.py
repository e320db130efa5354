"""A bundle's alarms (``alarms:`` in bundle.yaml): lint of each alarm and of its remedy against the schema, and
the remedy a deployment is offered (the next larger enum value; a number multiplied, rounded and clamped)."""

import shutil

import pytest
import yaml
from django.conf import settings

from bundles.alarms import alarm_problems, duration_seconds, remedy_params, runbook_sections, section_anchor
from bundles.loader import BundleError, read_bundle

SCHEMA = {
    "type": "object",
    "properties": {
        "size": {"type": "string", "enum": ["small", "medium", "large"], "default": "small"},
        "storage_gb": {"type": "integer", "minimum": 20, "maximum": 100, "default": 20, "x-unit": "GiB"},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "name": {"type": "string", "default": "x"},
        "password": {"type": "string", "x-sensitive": True},
    },
}
RUNBOOK = "# Runbook\n\n## Disk full\n\ntext\n\n```\n# not a heading\n```\n"
GOOD = {
    "name": "disk-full",
    "metric": "sandbox_database.main.storage_used_percent",
    "comparison": ">=",
    "threshold": 80,
    "duration": "5m",
    "severity": "warning",
    "runbook": "Disk full",
    "remedy": {"param": "storage_gb", "multiply": 1.5},
}


def problems(**changes):
    alarm = {k: v for k, v in ({**GOOD, **changes}).items() if v is not None}
    return alarm_problems([alarm], SCHEMA, resources={"sandbox_database.main"}, runbook=RUNBOOK)


def test_a_good_alarm_passes_and_the_runbook_sections_are_read():
    assert problems() == []
    assert runbook_sections(RUNBOOK) == ["Runbook", "Disk full"]
    assert section_anchor("Disk full") == "runbook-disk-full"
    assert duration_seconds("5m") == 300 and duration_seconds(30) == 30 and duration_seconds("2d") is None


@pytest.mark.parametrize(
    ("changes", "found"),
    [
        ({"metric": "storage_used_percent"}, "must be <resource type>.<resource name>.<metric>"),
        ({"metric": "sandbox_database.other.cpu_percent"}, "no resource sandbox_database.other"),
        ({"comparison": "=="}, "/comparison"),
        ({"threshold": "80"}, "/threshold"),
        ({"duration": "forever"}, "/duration"),
        ({"severity": "panic"}, "/severity"),
        ({"runbook": "Nowhere"}, "operator.md has no section 'Nowhere'"),
        ({"name": "Disk Full"}, "/name"),
        ({"remedy": {"param": "disk", "multiply": 2}}, "there is no param 'disk'"),
        ({"remedy": {"param": "name", "step": "next"}}, "not an enum"),
        ({"remedy": {"param": "size", "multiply": 2}}, "not a number"),
        ({"remedy": {"param": "size", "step": "previous"}}, "the only step is next"),
        ({"remedy": {"param": "storage_gb", "multiply": -1}}, "positive number"),
        ({"remedy": {"param": "storage_gb"}}, "exactly one of"),
        ({"remedy": {"param": "password", "step": "next"}}, "cannot be changed by a remedy"),
        ({"remedy": {"param": "storage_gb", "multiply": 1.5, "add": 3}}, "unknown key"),
        ({"remedy": {"param": "ratio", "multiply": 0.5}}, None),
    ],
)
def test_lint_names_each_problem_with_its_pointer(changes, found):
    listed = problems(**changes)
    if found is None:
        assert listed == []
    else:
        assert any(found in p for p in listed), listed
        assert all(p.startswith("bundle.yaml /alarms/0") for p in listed)


def test_a_remedy_whose_result_the_schema_refuses_is_refused():
    schema = {"type": "object", "properties": {"gb": {"type": "integer", "multipleOf": 10, "default": 10}}}
    listed = alarm_problems(
        [{**GOOD, "runbook": None, "remedy": {"param": "gb", "multiply": 1.5}}], schema, resources=None
    )
    assert listed == [
        "bundle.yaml /alarms/0/remedy: from '10' the remedy gives '15', which Gb refuses: 15 is not a multiple of 10"
    ]


def test_duplicate_names_and_a_non_list_are_refused():
    assert any("already the name" in p for p in alarm_problems([GOOD, GOOD], SCHEMA, runbook=RUNBOOK))
    assert alarm_problems({"a": 1}, SCHEMA) == [
        "bundle.yaml /alarms: must be a list of alarms (name, metric, comparison, threshold, duration, severity)"
    ]


def test_remedies_step_to_the_next_value_and_multiply_rounded_up_and_clamped():
    size = {"remedy": {"param": "size", "step": "next"}}
    storage = {"remedy": {"param": "storage_gb", "multiply": 1.5}}
    step = remedy_params(size, SCHEMA, {"size": "small", "storage_gb": 30})
    assert (step.before, step.after, step.params) == ("small", "medium", {"size": "medium", "storage_gb": 30})
    assert remedy_params(size, SCHEMA, {"size": "large"}) is None  # already the largest
    grown = remedy_params(storage, SCHEMA, {"storage_gb": 25})
    assert (grown.after, grown.words) == (38, "Storage gb: 25 GiB → 38 GiB")  # 37.5 rounded up
    assert remedy_params(storage, SCHEMA, {"storage_gb": 80}).after == 100  # clamped to the maximum
    assert remedy_params(storage, SCHEMA, {"storage_gb": 100}) is None  # nothing larger to offer
    assert remedy_params(storage, SCHEMA, {}).after == 30  # from the default


def test_the_catalog_postgres_with_alarms_lints_and_a_broken_copy_is_refused(tmp_path):
    manifest = read_bundle(settings.SLIPWAY_CATALOG_DIR / "postgres" / "2.5.0")
    assert [a["name"] for a in manifest.alarms] == ["storage-almost-full", "cpu-saturated"]
    path = tmp_path / "postgres"
    shutil.copytree(settings.SLIPWAY_CATALOG_DIR / "postgres" / "2.5.0", path)
    data = yaml.safe_load((path / "bundle.yaml").read_text())
    data["alarms"][0]["remedy"] = {"param": "storage_gb", "multiply": 1000}
    data["alarms"][1]["metric"] = "sandbox_database.replica.cpu_percent"
    (path / "bundle.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(BundleError) as refused:
        read_bundle(path)
    text = "\n".join(refused.value.problems)
    assert "/alarms/1/metric: the module has no resource sandbox_database.replica" in text
    # x 1000 from 20 GiB is clamped to 4096, which is valid: lint accepts it, so only the metric is refused.
    assert "/alarms/0" not in text
