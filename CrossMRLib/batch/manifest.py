"""Read a batch manifest: one study per CSV row (reference, scribbles, targets, out; optional study)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

REQUIRED = ("reference", "scribbles", "out")
OPTIONAL = ("targets", "study")


@dataclass
class StudyRow:
    """One manifest row: `argv` for `crossmr segment` (without -o), or `error` when the row is malformed."""

    number: int  # 1-based data row number, as a spreadsheet shows it minus the header
    out: Path
    argv: list[str]
    error: str = ""


def read_manifest(path: str | Path) -> list[StudyRow]:
    """Every row of the manifest; malformed rows carry an `error` (the others still run)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such manifest; give a CSV file with columns reference, scribbles, targets, out")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            records = [{(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else v
                        for k, v in record.items()} for record in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot be read as CSV ({exc}); save the manifest as UTF-8 CSV") from exc
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(f"{path}: the header lacks column(s) {', '.join(missing)}; the first line must name the columns "
                         "reference, scribbles, targets, out (and optionally study)")
    if not records:
        raise InputError(f"{path}: the manifest has no study rows")
    rows = [_row(number, record, path.parent) for number, record in enumerate(records, start=1)]
    _mark_shared_outputs(rows)
    return rows


def _row(number: int, record: dict, base: Path) -> StudyRow:
    def resolve(text: str) -> Path:
        return Path(text) if Path(text).is_absolute() else base / text

    out = resolve(record.get("out") or f"<row {number} without out>")
    if None in record:  # more cells than header columns
        return StudyRow(number, out, [], f"row {number}: {len(record[None])} more cell(s) than the header has columns; "
                                         "quote values holding commas")
    empty = [c for c in REQUIRED if not record.get(c)]
    if empty:
        return StudyRow(number, out, [], f"row {number}: no {' and no '.join(empty)}; fill in every required column")
    targets = [t.strip() for t in (record.get("targets") or "").split(";") if t.strip()]
    scribbles = str(resolve(record["scribbles"]))
    if record.get("study"):
        argv = [str(resolve(record["study"])), scribbles, "--reference", record["reference"]]
        argv += ["--targets", *targets] if targets else []
    else:
        if [t.lower() for t in targets] == ["all"]:
            return StudyRow(number, out, [], f"row {number}: targets 'all' needs a DICOM study in the study column")
        argv = [str(resolve(record["reference"])), scribbles, *(str(resolve(t)) for t in targets)]
    return StudyRow(number, out, argv)


def _mark_shared_outputs(rows: list[StudyRow]) -> None:
    seen: dict[Path, int] = {}
    for row in rows:
        if row.error:
            continue
        key = row.out.resolve()
        if key in seen:
            row.error = f"row {row.number}: out {row.out} is also row {seen[key]}'s output folder; give every study its own"
        else:
            seen[key] = row.number


def shard_of(rows: list[StudyRow], shard: str | None) -> list[StudyRow]:
    """The rows of shard 'I/N' (I = 0..N-1: rows I, I+N, I+2N...); all rows without a shard."""
    if not shard:
        return rows
    try:
        index, count = (int(v) for v in shard.split("/"))
    except ValueError:
        raise InputError(f"--shard {shard!r}: write it as I/N, e.g. 0/10 (I from 0 to N-1)") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {shard}: I must be 0..N-1 and N at least 1 (e.g. $SLURM_ARRAY_TASK_ID/10)")
    return [row for position, row in enumerate(rows) if position % count == index]
