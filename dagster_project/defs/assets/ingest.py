"""One Dagster asset per source contract: load new landing files into `raw/<source>/` (group "ingest").

The assets only write Parquet files, never the warehouse, so they need no DuckDB pool and run side by side;
a file that fails as a whole fails its own source's asset only. Each source has a pool of its own (limit 1 in
dagster.yaml), so a sensor run and a run launched by hand never ingest the same source at the same time.
"""

from pathlib import Path

import dagster as dg
import duckdb

from cx_core.sources.contracts import CONTRACTS, SourceContract
from cx_core.sources.ingest import IngestResult, ingest_source
from cx_core.sources.reader import ContractError, quote_identifier, sql_literal
from dagster_project.defs.metadata import contract_metadata
from dagster_project.defs.resources import PipelineSettings
from ml.redaction import redact

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 40
PII_MASK = "•••"


def build_ingest_asset(contract: SourceContract) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", contract.name],
        group_name="ingest",
        description=contract.description,
        kinds={"parquet"},
        pool=f"ingest_{contract.name}",
    )
    def ingest(context: dg.AssetExecutionContext, cx: PipelineSettings) -> dg.MaterializeResult:
        try:
            result = ingest_source(contract, cx.settings)
        except ContractError as error:
            raise dg.Failure(description=str(error)) from error
        context.log.info(result.summary())
        for file in result.files:
            if file.unknown_columns:
                context.log.warning(f"{contract.name}/{file.name}: ignored unknown columns {', '.join(file.unknown_columns)}")
        return dg.MaterializeResult(metadata=ingest_metadata(contract, result))

    return ingest


def ingest_metadata(contract: SourceContract, result: IngestResult) -> dict[str, object]:
    time_range = result.event_time_range
    metadata: dict[str, object] = {
        "files_processed": len(result.files),
        "files_already_loaded": len(result.skipped_files),
        "new_files": ", ".join(f.name for f in result.files) or "none",
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        **{f"quarantined:{reason}": count for reason, count in result.reasons.items()},
        "unknown_columns": ", ".join(result.unknown_columns) or "none",
        "event_time_min": time_range[0] if time_range else "none",
        "event_time_max": time_range[1] if time_range else "none",
        "raw_path": dg.MetadataValue.path(str(result.raw_dir)),
    }
    loaded_files = [Path(f.raw_file) for f in result.files if f.rows_loaded]
    with duckdb.connect() as con:  # one connection for both queries: opening one costs 20-100 ms (issue 19)
        if result.raw_dir.exists():
            metadata |= contract_metadata(contract, str(result.raw_dir / "**" / "*.parquet"), con)
        if loaded_files:
            metadata["preview"] = dg.MetadataValue.md(preview_markdown(contract, loaded_files, con))
    return metadata


def preview_markdown(contract: SourceContract, parquet_files: list[Path], con: duckdb.DuckDBPyConnection) -> str:
    """The first rows of the new Parquet files as a markdown table: personal-data columns masked, free text
    redacted (ml/redaction.py), long values cut; times in UTC."""
    files = "[" + ", ".join(sql_literal(str(p)) for p in parquet_files) + "]"
    columns = ", ".join(
        f"CASE WHEN {quote_identifier(c)} IS NOT NULL THEN {sql_literal(PII_MASK)} END AS {quote_identifier(c)}"
        if c in contract.pii_columns
        else f"{quote_identifier(c)}::VARCHAR AS {quote_identifier(c)}"
        for c in contract.column_names
    )
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(f"SELECT {columns} FROM read_parquet({files}) LIMIT {PREVIEW_ROWS}").fetchall()
    free_text = [c in contract.free_text_columns for c in contract.column_names]
    cells = [[_preview_cell(value, redacted) for value, redacted in zip(row, free_text)] for row in rows]
    lines = ["| " + " | ".join(contract.column_names) + " |", "|" + "---|" * len(contract.column_names)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _preview_cell(value: object, is_free_text: bool) -> str:
    text = "" if value is None else str(value)
    text = redact(text) if is_free_text else text
    return text[:PREVIEW_CELL_CHARS].replace("|", "\\|").replace("\n", " ")


ingest_assets = [build_ingest_asset(contract) for contract in CONTRACTS.values()]
