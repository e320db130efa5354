"""CSV cells that a spreadsheet shows as text, never runs.

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets: a developer's reason ``=HYPERLINK("http://evil.example", …)``
in an evidence export would become a live link in a reviewer's spreadsheet. Such a cell gets a
leading apostrophe, which spreadsheets hide and treat as "this is text". Numbers (``-5``, ``+1.5``)
are left as they are, so the data still reads as data.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    if not text.startswith(FORMULA_START):
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text
