"""Whatever is in a stock file, reading it either works or says where it went wrong.

Property-based: random bytes, random text, random CSV-ish tables and random YAML documents
are written to a file and read with ``load_desired``. Each one must either load, giving
rows that name a target and hold a value Wix accepts, or fail with ``SourceError`` whose
message names the file and a line (``file:line: ...``; every listed bad row too). No other
exception may escape: a daemon reading a half-written upload must report it, not crash.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from syncd.base.errors import SourceError
from syncd.base.model import MAX_QUANTITY
from syncd.edges.config import SourceFormat, SourceSettings
from syncd.edges.sources import DesiredSource, InvalidRowsError, load_desired

EXAMPLES = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sources")


def _load(path: Path, content: bytes, fmt: SourceFormat) -> DesiredSource | SourceError:
    path.write_bytes(content)
    try:
        return load_desired(SourceSettings(path=path, format=fmt))
    except SourceError as exc:
        return exc


def _check(path: Path, outcome: DesiredSource | SourceError) -> None:
    """The property: usable rows, or an error naming the file and a line."""
    event("loaded" if isinstance(outcome, DesiredSource) else type(outcome).__name__)
    if isinstance(outcome, DesiredSource):
        assert len(outcome.rows) > 0
        for row in outcome.rows:
            assert (row.sku is None) != (row.product_id is None)
            assert (row.quantity is None) != (row.in_stock is None)
            assert row.quantity is None or 0 <= row.quantity <= MAX_QUANTITY
            assert row.line >= 1
        return
    message = str(outcome)
    named = re.escape(str(path))
    if isinstance(outcome, InvalidRowsError):
        # "file: why:", then every bad row (up to 100) as "  file:line: field: reason".
        assert message.startswith(f"{path}: ") and outcome.errors, message
        for error in outcome.errors[:100]:
            assert error.source == str(path) and error.line >= 1
            assert f"\n  {path}:{error.line}: " in message and str(error) in message
        return
    if re.match(rf"{named}: ({WHOLE_FILE})", message):
        return  # a verdict on the whole file: no single line to name
    assert re.match(rf"{named}:\d+: ", message), message


WHOLE_FILE = "|".join((
    "empty file: ",                # nothing but blank lines
    "no data rows; ",              # a header (or an empty YAML mapping) and nothing else
    r"not [\w-]+ text \(",         # undecodable bytes: the message gives the byte offset
))
"""Errors about the file as a whole, which name the file but no line."""


# -- strategies -------------------------------------------------------------------------------

COLUMNS = ["sku", "SKU", " quantity ", "quantity", "in_stock", "product_id", "variant_id",
           "qty", "name", ""]
CELLS = st.one_of(
    st.sampled_from(["", " ", "0", "7", "-3", "99999", "100000", "1e3", "3.5", "0x10",
                     "true", "FALSE", "yes", "no", "maybe", "TSHIRT-RED-M", "MUG", "MUG",
                     "\"quoted, cell\"", "\"unterminated", "a\"b", "\N{BOM}sku", "\t7 "]),
    st.text(alphabet=string.printable, max_size=12),
)
DELIMITERS = st.sampled_from([",", ";", "\t", "|"])


SKUS = st.from_regex(r"[A-Z]{2,6}-[0-9]{1,3}", fullmatch=True)
GOOD_HEADERS = [["sku", "quantity"], ["quantity", "SKU"], ["sku", "in_stock"],
                ["product_id", "variant_id", "quantity"]]


@st.composite
def csv_tables(draw: st.DrawFn) -> bytes:
    """A header (usable or not), then rows of mostly plausible, sometimes awkward cells."""
    delimiter = draw(DELIMITERS)
    if draw(st.booleans()):
        header = draw(st.sampled_from(GOOD_HEADERS))
    else:
        header = draw(st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=5))
    plausible = {"sku": SKUS, "product_id": SKUS, "variant_id": SKUS,
                 "quantity": st.integers(0, 99_999).map(str), "in_stock": st.booleans().map(str)}
    rows = draw(st.lists(st.lists(st.one_of(CELLS, *plausible.values()), max_size=6)
                         if draw(st.integers(0, 3)) == 0 else
                         st.tuples(*(plausible.get(c.strip().lower(), CELLS) for c in header)),
                         max_size=8))
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return newline.join(lines).encode(encoding, errors="replace")


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10),
    st.sampled_from(["sku", "quantity", "in_stock", "product_id", "variant_id", "MUG-1"]),
)
RANDOM_DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(
            ["sku", "quantity", "in_stock", "product_id", "variant_id", "MUG-1"])),
            children, max_size=5),
    ),
    max_leaves=20,
)
DOCUMENTS = st.one_of(
    RANDOM_DOCUMENTS,
    st.dictionaries(SKUS, st.one_of(st.integers(-5, 100_005), st.booleans(), SCALARS)),
    st.lists(st.fixed_dictionaries({"sku": SKUS}, optional={
        "quantity": st.integers(-5, 100_005), "in_stock": st.booleans(), "qty": SCALARS})),
)
YAML_FRAGMENTS = st.lists(st.sampled_from([
    "MUG: 3\n", "MUG: 3\n", "- {sku: A, quantity: 1}\n", "- sku: B\n  in_stock: yes\n",
    "&a x: 1\n", "*a\n", "!!python/object:os.system {}\n", "? [a, b]\n: 1\n", "<<: {a: 1}\n",
    "key: [1, 2\n", "'unterminated\n", "---\n", "...\n", "%YAML 1.1\n", "\t- 1\n",
    "x: !!binary aGVsbG8=\n", "[" * 40 + "\n", "a: {quantity: -1}\n", "b: 100000\n",
    "c: 1_000\n", "d: 0o17\n", "e: .inf\n", "f: ~\n", "\x00\n", "\x85\n", "\ud7ff: 1\n",
]), max_size=8).map("".join)


# -- properties -------------------------------------------------------------------------------

FORMATS = [SourceFormat.CSV, SourceFormat.YAML]


@pytest.mark.parametrize("fmt", FORMATS)
@EXAMPLES
@given(content=st.binary(max_size=300))
def test_random_bytes_load_or_fail_naming_file_and_line(workdir, fmt, content):
    path = workdir / f"bytes.{fmt.value}"
    _check(path, _load(path, content, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
@EXAMPLES
@given(text=st.text(max_size=300))
def test_random_text_loads_or_fails_naming_file_and_line(workdir, fmt, text):
    path = workdir / f"text.{fmt.value}"
    _check(path, _load(path, text.encode("utf-8", errors="surrogatepass"), fmt))


@EXAMPLES
@given(content=csv_tables())
@example(content=b"sku;quantity\r\nMUG;3\r\nCAP;0\r\n")
def test_csv_like_tables_load_or_fail_naming_file_and_line(workdir, content):
    path = workdir / "table.csv"
    _check(path, _load(path, content, SourceFormat.CSV))


@EXAMPLES
@given(document=DOCUMENTS)
@example(document={"MUG": 3, "CAP": False, "HAT": {"quantity": 2}})
def test_yaml_documents_load_or_fail_naming_file_and_line(workdir, document):
    path = workdir / "document.yaml"
    content = yaml.safe_dump(document, allow_unicode=True).encode("utf-8")
    _check(path, _load(path, content, SourceFormat.YAML))


@EXAMPLES
@given(text=YAML_FRAGMENTS)
def test_yaml_fragments_load_or_fail_naming_file_and_line(workdir, text):
    path = workdir / "fragments.yaml"
    _check(path, _load(path, text.encode("utf-8", errors="surrogatepass"), SourceFormat.YAML))
