"""The erased person's closed-loop case data. A case update carries only a case id, but the agent's note may name
the customer; the CRM exports `cases_<date>.csv` carry the customer's CRM id. Both are found through the
person's cases: those fct_cx_cases lists for their customer keys (read before the warehouse erasure deletes
them) and those the export files list for their customer keys or CRM ids (an older export may hold a case the
warehouse no longer has)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from cx_core.cases import export_files, read_case_export
from cx_core.files import write_atomically
from cx_core.privacy.rewrite import RowSelector
from cx_core.sources.contracts import SourceContract
from cx_core.sources.reader import sql_literal
from cx_core.warehouse import table_exists

CASES_TABLE = "fct_cx_cases"
CASE_ID_COLUMN = "case_id"


def person_case_ids(warehouse: Path, exports_dir: Path, customer_keys: frozenset[str], crm_ids: set[str]) -> set[str]:
    """The ids of every case of the customer with these keys or CRM ids, in the warehouse or in an export."""
    case_ids = set()
    if customer_keys and table_exists(warehouse, CASES_TABLE):
        with duckdb.connect(str(warehouse), read_only=True) as con:
            keys = ", ".join(sql_literal(key) for key in sorted(customer_keys))
            case_ids |= {case_id for (case_id,) in con.execute(
                f"SELECT case_id FROM {CASES_TABLE} WHERE customer_key IN ({keys})").fetchall()}
    for path in export_files(exports_dir):
        cases = read_case_export(path)
        theirs = cases.filter(pl.col("customer_key").is_in(sorted(customer_keys))
                              | pl.col("crm_customer_id").is_in(sorted(crm_ids)))
        case_ids |= set(theirs[CASE_ID_COLUMN].to_list())
    return case_ids


def with_case_rows(select: RowSelector, case_ids: set[str]) -> RowSelector:
    """`select`'s rows plus, in a source with case ids (case updates), every row of one of `case_ids`: by its
    case_id column, or in quarantine by the raw text of a line that could not be split into columns."""

    def select_with_cases(con: duckdb.DuckDBPyConnection, relation: str, contract: SourceContract) -> str | None:
        conditions = [select(con, relation, contract)]
        if case_ids and CASE_ID_COLUMN in contract.column_names:
            present = {name for (name,) in con.execute(f"SELECT column_name FROM (DESCRIBE {relation})").fetchall()}
            ids = [sql_literal(case_id) for case_id in sorted(case_ids)]
            if CASE_ID_COLUMN in present:
                conditions.append(f"{CASE_ID_COLUMN}::VARCHAR IN ({', '.join(ids)})")
            if "_raw" in present:
                conditions += [f"contains(_raw, {case_id})" for case_id in ids]
        return " OR ".join(f"({c})" for c in conditions if c) or None

    return select_with_cases


def remove_from_case_exports(exports_dir: Path, case_ids: set[str]) -> dict[str, int]:
    """Rewrite every case export without the rows of `case_ids` (atomically, header kept when no row is left);
    returns the rows removed per file."""
    removed = {}
    for path in export_files(exports_dir):
        cases = read_case_export(path)
        kept = cases.filter(~pl.col(CASE_ID_COLUMN).is_in(sorted(case_ids)))
        if kept.height < cases.height:
            write_atomically(path, kept.write_csv)
            removed[path.name] = cases.height - kept.height
    return removed
