"""SQL audits of the scoring job's shards with DuckDB, and a static HTML report.

    from curation.audits import AuditView, run_audit
    with AuditView(["out/"]) as view:
        table = run_audit(view, "failure_modes", by_source=False)   # a pyarrow.Table
        view.sql("SELECT decision, count(*) FROM samples GROUP BY ALL")  # ad-hoc, read-only

Named audits are the SQL files in `sql/` (see `registry`); `report.build_report` writes the HTML
report; `pipelines/audit.py` is the command line.
"""

from .registry import audits, get, run_audit
from .view import AuditView, ReadOnlyError

__all__ = ["AuditView", "ReadOnlyError", "audits", "get", "run_audit"]
