"""A field at fault has a red border and a read-only field looks read-only, in the real stylesheet."""

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_field_at_fault_is_red_and_a_read_only_field_looks_read_only(page):
    page.goto("/accounts/login/")
    styles = page.evaluate(
        """() => {
            const box = document.createElement("div");
            box.className = "field";
            box.innerHTML = '<input id="t-bad" aria-invalid="true"><input id="t-ro" readonly>'
                + '<input id="t-off" disabled><input id="t-ok">';
            document.querySelector("main").appendChild(box);
            const s = (id) => getComputedStyle(document.getElementById(id));
            return {
                bad: s("t-bad").borderTopColor, ok: s("t-ok").borderTopColor,
                ro: s("t-ro").backgroundColor, off: s("t-off").backgroundColor, okBg: s("t-ok").backgroundColor,
                roCursor: s("t-ro").cursor,
            };
        }"""
    )
    assert styles["bad"] == "rgb(185, 28, 28)" and styles["ok"] != styles["bad"]  # --bad
    assert styles["ro"] != styles["okBg"] and styles["off"] != styles["okBg"]
    assert styles["roCursor"] == "not-allowed"
