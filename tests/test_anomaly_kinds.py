"""One list of anomaly kinds: the detector, the trace_quality view and the dashboard agree."""

from __future__ import annotations

import re
from pathlib import Path

from warehouse.dashboard import ui
from warehouse.formats.trace.records import ANOMALY_KINDS, RECORD_ANOMALY_KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_the_detector_emits_only_listed_kinds():
    source = (ROOT / "warehouse/formats/trace/records.py").read_text()
    emitted = set(re.findall(r'_find\(found, "([a-z_]+)"', source))
    assert emitted == set(RECORD_ANOMALY_KINDS)
    sql_kinds = set()
    for path in (ROOT / "sql/ingest").glob("*.sql"):
        text = path.read_text()
        if "INSERT INTO anomalies" in text:
            for line_kind, run_kind in re.findall(r"^\s*'([a-z_]+)',$|'([a-z_]+)', \$message", text, re.M):
                sql_kinds.add(line_kind or run_kind)
    assert sql_kinds == set(ANOMALY_KINDS) - set(RECORD_ANOMALY_KINDS)


def test_trace_quality_counts_every_kind_once():
    text = (ROOT / "sql/views/v1/trace_quality.sql").read_text()
    counted = re.findall(r"WHEN kind = '([a-z_]+)' THEN 1 END\) AS ([a-z_]+)", text)
    assert [c for c, _ in counted] == [alias for _, alias in counted]
    assert sorted(c for c, _ in counted) == sorted(ANOMALY_KINDS)
    documented = set(re.findall(r"^-- @column ([a-z_]+)", text, re.M))
    assert set(ANOMALY_KINDS) <= documented


def test_the_dashboard_has_a_sentence_for_every_kind():
    assert set(ANOMALY_KINDS) <= {col for col, _, _ in ui._QUALITY}
