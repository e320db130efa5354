"""Evidence exports open safely in a spreadsheet: a formula someone typed stays text."""

import csv
import io

import pytest
from django.urls import reverse

from deployments import services
from portal.spreadsheets import spreadsheet_safe

pytestmark = pytest.mark.django_db

TRAP = '=HYPERLINK("http://evil.example/","Click for details")'


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (TRAP, "'" + TRAP),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("-5", "-5"),  # numbers stay numbers
        ("+1.5", "+1.5"),
        ("bigger disk", "bigger disk"),
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_made_text(value, cell):
    assert spreadsheet_safe(value) == cell


def test_a_reason_typed_as_a_formula_is_exported_as_text(client, auditor, dev, catalog, proto_env):
    services.deployment_create(
        environment=proto_env,
        name="trap",
        bundle_version=catalog["echo"],
        params={"message": TRAP},
        actor=dev,
        reason=TRAP,
    )
    client.force_login(auditor)
    response = client.get(reverse("audit:timeline"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    details = [row["detail"] for row in rows if "HYPERLINK" in row["detail"]]
    assert details and all(not d.startswith(("=", "+", "-", "@")) for d in details)
    assert any(d.startswith("'" + TRAP) for d in details)  # the change's own reason, as text

    client.force_login(dev)
    estate = client.get(reverse("deployments:estate"), {"q": "bundle:echo params.message~HYPERLINK", "format": "csv"})
    cells = [cell for row in csv.reader(io.StringIO(estate.content.decode())) for cell in row if "HYPERLINK" in cell]
    assert cells == ["'" + TRAP]
