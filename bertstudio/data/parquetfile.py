"""Parquet files to rows of text, with pyarrow: numbers as Arrow writes them, lists of tags joined
into one cell, structs as compact JSON, nulls empty.

Parquet compresses and dictionary-encodes, so a few kilobytes can stand for gigabytes of text. The
footer's row count and unpacked sizes are checked before any data is read; text columns are read
as dictionaries and their cells measured from the dictionary before a single string is built, so
one long value repeated a million times is refused instead of materialised.
"""

from __future__ import annotations

import io
from typing import Any

from bertstudio.data.formats import TAG_SEPARATORS, Columns, Number, Records
from bertstudio.errors import StudioError
from bertstudio.limits import too_long

_BATCH_ROWS = 8192


def read_parquet(data: bytes, name: str, max_bytes: int, max_rows: int | None,
                 max_text_chars: int) -> Records:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bertstudio.data.filebytes import size_text

    try:
        schema = pq.read_schema(io.BytesIO(data))
        texts = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        handle = pq.ParquetFile(io.BytesIO(data), read_dictionary=texts)
        meta = handle.metadata
        unpacked = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
    except MemoryError:
        raise
    except Exception as exc:  # pyarrow's ArrowInvalid, OSError ...: all mean a damaged file here
        raise _damaged(name, exc) from exc
    if max_rows is not None and meta.num_rows > max_rows:
        raise StudioError(f"'{name}' has more than {max_rows:,} rows, the limit here; upload a "
                          f"sample of at most {max_rows:,} rows.")
    if unpacked > max_bytes:
        raise StudioError(f"'{name}' unpacks to more than {size_text(max_bytes)}; split the data into "
                          "smaller files or remove columns you do not need.")
    header = [str(n) for n in handle.schema_arrow.names]
    columns = Columns()
    for key in header:
        columns.position(key)
    rows: list[list[str]] = []
    budget = [max_bytes, max_bytes]  # [left to spend, the limit]: text cells may not add up past it
    try:
        _choose_separators(handle, header, columns)
        for batch in handle.iter_batches(batch_size=_BATCH_ROWS):
            cells = [_cells(batch.column(i), key, columns, budget, name, max_text_chars)
                     for i, key in enumerate(header)]
            rows.extend(map(list, zip(*cells)) if cells else [])
    except (StudioError, MemoryError):
        raise
    except Exception as exc:
        raise _damaged(name, exc) from exc
    columns.join_tags(rows)  # lists of label ids, read through Python
    return Records(header=header, rows=rows, notes=columns.notes(), kinds=columns.kind_names(),
                   separators={columns.index[k]: s for k, s in columns.separators.items()})


def _cells(array, key: str, columns: Columns, budget: list[int], name: str, limit: int) -> list[str]:
    """One column of a batch as cell texts; text is measured before it is built."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = columns.kinds[key]
    kind = array.type
    if pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type)
                                         or pa.types.is_large_string(kind.value_type)):
        kinds.add("string")
        values = array.dictionary.to_pylist()
        lengths = pc.utf8_length(array.dictionary).to_numpy(zero_copy_only=False)
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        valid = ~array.is_null().to_numpy(zero_copy_only=False)
        cell_lengths = np.where(valid, lengths[indices] if len(lengths) else 0, 0)
        _spend(int(cell_lengths.sum()), int(cell_lengths.max(initial=0)), budget, name, key, limit)
        values.append("")
        indices = np.where(valid, indices, len(values) - 1)
        return [values[i] for i in indices.tolist()]
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        kinds.add("number")
        return _as_text(pc.cast(array, pa.string()), budget, name, key, limit, nan_is_empty=True)
    if pa.types.is_boolean(kind):
        kinds.add("bool")
        return _as_text(pc.cast(array, pa.string()), budget, name, key, limit)
    if pa.types.is_temporal(kind):
        kinds.add("date")
        return _as_text(pc.cast(array, pa.string()), budget, name, key, limit)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        kinds.add("string")
        return _as_text(array, budget, name, key, limit)
    if _is_text_list(kind) and key in columns.separators:  # tags, joined by Arrow itself
        kinds.add("list")
        return _as_text(pc.binary_join(array, columns.separators[key]), budget, name, key, limit)
    # Structs, maps, binary, lists of numbers: through Python, after Arrow says how big they are.
    _spend(array.nbytes, 0, budget, name, key, limit)
    cells = [columns.cell(key, _plain(value)) for value in array.to_pylist()]
    longest = max((len(c) for c in cells if isinstance(c, str)), default=0)
    if longest > limit:
        raise too_long(longest, limit, f"A cell in column '{key}' of '{name}'")
    return cells


def _choose_separators(handle, header: list[str], columns: Columns) -> None:
    """One separator per column of text lists, the first that no tag in the whole column
    contains: a first pass over those columns only, each batch searched by Arrow."""
    import pyarrow.compute as pc

    lists = [key for key, f in zip(header, handle.schema_arrow) if _is_text_list(f.type)]
    if not lists:
        return
    found: dict[str, set[str]] = {key: set() for key in lists}
    for batch in handle.iter_batches(batch_size=_BATCH_ROWS, columns=lists):
        for key in lists:
            flat = batch.column(key).flatten()
            found[key].update(sep for sep in TAG_SEPARATORS if sep not in found[key]
                              and pc.any(pc.match_substring(flat, sep)).as_py())
    for key in lists:
        separator = next((sep for sep in TAG_SEPARATORS if sep not in found[key]), None)
        if separator is not None:
            columns.separators[key] = separator


def _is_text_list(kind) -> bool:
    import pyarrow as pa

    return ((pa.types.is_list(kind) or pa.types.is_large_list(kind))
            and (pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)))


def _as_text(array, budget: list[int], name: str, key: str, limit: int, nan_is_empty: bool = False) -> list[str]:
    import pyarrow.compute as pc

    lengths = pc.utf8_length(array)
    _spend(int(pc.sum(lengths).as_py() or 0), int(pc.max(lengths).as_py() or 0), budget, name, key, limit)
    cells = ["" if value is None else value for value in array.to_pylist()]
    if nan_is_empty:  # pandas writes a missing number as NaN
        cells = ["" if value in ("nan", "NaN") else value for value in cells]
    return cells


def _spend(total: int, longest: int, budget: list[int], name: str, key: str, limit: int) -> None:
    if longest > limit:
        raise too_long(longest, limit, f"A cell in column '{key}' of '{name}'")
    budget[0] -= total
    if budget[0] < 0:
        from bertstudio.data.filebytes import size_text

        raise StudioError(f"'{name}' unpacks to more than {size_text(budget[1])} of text; split the "
                          "data into smaller files or remove columns you do not need.")


def _plain(value: Any) -> Any:
    """Arrow's Python values in JSON's terms: bytes as text, map entries (key, value) as an object."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {str(k): _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Number(repr(value) if isinstance(value, float) else str(value))
    if value is not None and not isinstance(value, (str, bool)):
        return str(value)
    return value


def _damaged(name: str, exc: BaseException) -> StudioError:
    return StudioError(f"'{name}' looks like a Parquet file but cannot be read (it may be damaged or "
                       "cut off); write it again, or save the table as CSV and choose that file.",
                       detail=f"{type(exc).__name__}: {exc}")

