"""A file's bytes and their text, before any parsing: regular files only, size limits, gzip,
formats that cannot be read named, and the encoding found.

Split from `tabular.py` (which parses the text into rows) because what protects the server lives
here: /dev/zero, a FIFO, a .gz that unpacks to terabytes and a file past the upload limit are all
refused before they cost memory. Every refusal is a StudioError that says what to do.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import stat
import zlib
from pathlib import Path

from bertstudio.errors import StudioError

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: the most a file may hold once decompressed
SNIFF_CHARS = 64 * 1024
_GZIP_CHUNK = 1 << 20

# (prefix, what it is, what to do) for files that are plainly not text.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "choose the CSV or TSV file with the data instead"),
    (b"\xff\xd8\xff", "a JPEG image", "choose the CSV or TSV file with the data instead"),
    (b"GIF87a", "a GIF image", "choose the CSV or TSV file with the data instead"),
    (b"GIF89a", "a GIF image", "choose the CSV or TSV file with the data instead"),
    (b"%PDF-", "a PDF file", "export the table from it as CSV and choose that file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or Office file",
     "open it in your spreadsheet program, save it as .xlsx or CSV and choose that file"),
)
# What a readable table file can be, for the sentences that refuse the rest.
READABLE = "CSV, TSV, Excel (.xlsx), JSON, JSON Lines or Parquet"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Table formats that are not read (CSV, TSV, Excel, JSON and Parquet are), named so the refusal
# can say what the file is and the way out: (prefix, format, pandas reader).
_TABLE_MAGIC = ((b"ARROW1", "an Arrow (Feather) file", "read_feather"),
                (b"SQLite format 3\x00", "an SQLite database", "read_sql"), (b"Obj\x01", "an Avro file", None))
# ZIP-based documents that are not workbooks: (a name inside, what it is, what to do).
_ZIP_KINDS = ((b"word/", "a Word document", "copy its table into a spreadsheet and save that as .xlsx or CSV"),
              (b"ppt/", "a PowerPoint file", "copy its table into a spreadsheet and save that as .xlsx or CSV"),
              (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (.ods)",
               "open it in your spreadsheet program, save it as .xlsx or CSV and choose that file"),
              (b"opendocument.text", "an OpenDocument text file (.odt)",
               "copy its table into a spreadsheet and save that as .xlsx or CSV"))


def read_file(path: Path, name: str, max_bytes: int) -> bytes:
    """The file's bytes, at most `max_bytes`: only a regular file is read, and never past the limit.

    /dev/zero never ends and a FIFO blocks until someone writes to it, so the file is opened
    without blocking and looked at (fstat on the open file, so a swap after the check cannot
    fool it) before a single byte is read; the read stops one byte past the limit.
    """
    if not path.exists():
        raise StudioError(f"The file '{path}' does not exist; check the path.")
    if path.is_dir():
        raise StudioError(f"'{path}' is a folder, not a file; choose the CSV or TSV file in it.")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise StudioError(f"'{path}' cannot be read; check that you have permission to read it.",
                          detail=str(exc)) from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise StudioError(f"'{path}' is not a regular file (it is a device, a pipe or a socket); "
                              "choose a CSV or TSV file saved on disk.")
        try:
            raw = handle.read(max_bytes + 1)
        except OSError as exc:
            raise StudioError(f"'{path}' cannot be read; check that you have permission to read it.",
                              detail=str(exc)) from exc
    if len(raw) > max_bytes:
        raise StudioError(f"'{name}' is larger than {size_text(max_bytes)}; split it into smaller "
                          "files or remove columns you do not need.")
    return raw


def gunzip(raw: bytes, name: str, max_bytes: int) -> bytes:
    """Decompress chunk by chunk and stop past `max_bytes`: a small .gz can unpack to terabytes."""
    parts: list[bytes] = []
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            while chunk := stream.read(_GZIP_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise StudioError(
                        f"'{name}' unpacks to more than {size_text(max_bytes)}; split the data into "
                        "smaller files or remove columns you do not need.")
                parts.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise StudioError(f"'{name}' is a damaged or incomplete gzip file; compress it again or "
                          "choose the uncompressed file.", detail=str(exc)) from exc
    return b"".join(parts)


def refuse_binary(data: bytes, name: str) -> None:
    for prefix, what, todo in _MAGIC:
        if data.startswith(prefix):
            raise StudioError(f"'{name}' looks like {what}, not a {READABLE} file; {todo}.")
    if data.startswith(_ZIP_MAGIC):  # a workbook was read before this; any other ZIP is refused
        head = data[:4096] + _zip_names(data)
        for marker, what, todo in _ZIP_KINDS:
            if marker in head:
                raise StudioError(f"'{name}' looks like {what}, not a {READABLE} file; {todo}.")
        raise StudioError(f"'{name}' looks like a ZIP archive, not a {READABLE} file; unpack it "
                          "and choose the CSV or TSV file inside.")
    sample = data[:SNIFF_CHARS]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(sample):
        return  # UTF-16 text is half NUL bytes by nature
    if sample.count(0) > len(sample) * 0.1:
        raise StudioError(f"'{name}' is not a text file; choose a CSV or TSV file.")


def _zip_names(data: bytes) -> bytes:
    """The archive's entry names (and an OpenDocument's mimetype), to say what kind of document it is."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, KeyError):
        return b""
    return " ".join(names[:1000]).encode("utf-8", "replace") + b" " + mimetype


def refuse_other_tables(data: bytes, name: str) -> None:
    """Name the table formats that are not read (Arrow, SQLite, Avro) and say to export CSV."""
    found = next(((what, reader) for prefix, what, reader in _TABLE_MAGIC if data.startswith(prefix)), None)
    if found is not None:
        what, reader = found
        how = f" (for example with pandas' {reader} and to_csv)" if reader else ""
        raise StudioError(f"'{name}' looks like {what}, not a {READABLE} file; save it as CSV or TSV"
                          f"{how} and choose that file.")


# --- text ------------------------------------------------------------------------------------


def decode(data: bytes, name: str = "data") -> tuple[str, str]:
    """Bytes to text and the encoding used: BOM first, then strict UTF-8, cp1252, latin-1."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8):]  # a BOM over cp1252 bytes: fall through
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    else:
        guess = _utf16_without_bom(data[:SNIFF_CHARS])
        if guess:
            return data.decode(guess, errors="replace"), guess
    for encoding in ("utf-8", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        _refuse_control_heavy(text, name)
        return text, encoding
    text = data.decode("latin-1")  # never fails: every byte is a character
    _refuse_control_heavy(text, name)
    return text, "latin-1"


def _utf16_without_bom(sample: bytes) -> str | None:
    """ASCII-range text in UTF-16 has a NUL in every other byte; which side says the byte order."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _refuse_control_heavy(text: str, name: str) -> None:
    """Binary bytes decode as cp1252/latin-1 too; their many control characters give them away."""
    sample = text[:SNIFF_CHARS]
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r\x0b\x0c\x00")
                   or "\x7f" <= ch <= "\x9f")
    if controls > len(sample) * 0.05:
        raise StudioError(f"'{name}' is not a text file; choose a CSV or TSV file.")


def size_text(n: int) -> str:
    """10_000_000 -> "10 MB"; 1500 -> "1.5 KB". Decimal units, as the hosted limit is set and
    stated (BERTSTUDIO_MAX_UPLOAD_MB, the banner): one number, one unit, everywhere."""
    value, unit = float(n), "bytes"
    for bigger in ("KB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
