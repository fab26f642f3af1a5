"""Reading feature tables (CSV, Parquet, .npz) and the problems named."""

import bz2
import gzip
import lzma

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_dsc import _files
from sklearn_dsc._files import DataError, read_table


def test_csv_table_with_a_target(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,label,b\n1,x,2\n3,y,NA\n")
    with pytest.raises(DataError, match="missing"):
        read_table(path, target="label")
    path.write_text("a,label,b\n1,x,2\n3,y\n")
    with pytest.raises(DataError, match="line 3 has 2 fields, the header has 3"):
        read_table(path, target="label")
    path.write_text("a,label,b\n1,x,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 field, the header has 3"):
        read_table(path, target="label")
    path.write_text("a,label,b\n1,x,2\n3,y,4.5\n")
    table = read_table(path, target="label")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1, 2], [3, 4.5]])
    assert table.target.tolist() == ["x", "y"]


def test_labels_written_as_integers_alone_are_read_as_integers(tmp_path):
    """Labels that differ as text stay apart: "01" and "1" are two classes,
    and "007" keeps its name."""
    path = tmp_path / "data.csv"
    path.write_text("a,label\n1,01\n2,1\n3,007\n4,+7\n")
    assert read_table(path, target="label").target.tolist() == ["01", "1", "007", "+7"]
    path.write_text("a,label\n1,3\n2,-2\n3, 10\n")
    target = read_table(path, target="label").target
    assert target.dtype == np.int64
    assert target.tolist() == [3, -2, 10]
    # integers too large for int64 (20-digit codes) are kept as written
    path.write_text("a,label\n1,9223372036854775808\n2,12345678901234567890\n")
    assert read_table(path, target="label").target.tolist() == [
        "9223372036854775808",
        "12345678901234567890",
    ]


def test_csv_truth_values_are_read_as_parquet_reads_them(tmp_path):
    """A column of truth values alone (pandas writes True, R writes TRUE) is
    1 and 0, as a boolean Parquet column is; mixed with other values it is
    not numeric."""
    path = tmp_path / "data.csv"
    path.write_text("a,smoker,label\n1,True,x\n2,false,y\n3, TRUE ,x\n")
    table = read_table(path, target="label")
    np.testing.assert_array_equal(table.features, [[1, 1], [2, 0], [3, 1]])
    path.write_text("a,smoker,label\n1,True,x\n2,NA,y\n")
    with pytest.raises(DataError, match=r"1 missing or NaN feature cell \(first"):
        read_table(path, target="label")
    path.write_text("a,smoker,label\n1,True,x\n2,1,y\n")
    with pytest.raises(DataError, match="non-numeric feature columns 'smoker'"):
        read_table(path, target="label")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    columns = {"a": [1, 2, 3], "smoker": [True, False, True], "label": list("xyx")}
    pq.write_table(pa.table(columns), tmp_path / "data.parquet")
    parquet = read_table(tmp_path / "data.parquet", target="label")
    np.testing.assert_array_equal(parquet.features, [[1, 1], [2, 0], [3, 1]])


def test_a_csv_file_not_in_utf8_is_named_so(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("a,label\n1,caf\u00e9\n2,the\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 .*save it as"):
        read_table(path, target="label")
    path.write_bytes("a,label\n1,caf\u00e9\n2,the\n".encode("utf-8"))
    assert read_table(path, target="label").target.tolist() == ["caf\u00e9", "the"]


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [
        (".csv.gz", gzip.compress),
        (".CSV.BZ2", bz2.compress),
        (".tsv.xz", lzma.compress),
    ],
)
def test_compressed_csv_files_are_read(tmp_path, suffix, compress):
    """A CSV file compressed by gzip, bzip2 or xz reads as the file itself,
    its delimiter detected as in plain text; corrupt or cut-short data is
    named so."""
    text = "a;label;b\n1.5;x;2\n3;y;-4\n"
    path = tmp_path / f"data{suffix}"
    path.write_bytes(compress(text.encode()))
    table = read_table(path, target="label")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1.5, 2.0], [3.0, -4.0]])
    assert table.target.tolist() == ["x", "y"]
    path.write_bytes(compress(text.encode())[:-12])
    with pytest.raises(DataError, match=r"data\..*: cannot be decompressed \("):
        read_table(path, target="label")
    # corrupt inside, where gzip's inflater raises zlib.error
    data = compress((text * 20).encode())
    middle = len(data) // 2
    flipped = bytes(byte ^ 0xFF for byte in data[middle : middle + 8])
    path.write_bytes(data[:middle] + flipped + data[middle + 8 :])
    with pytest.raises(DataError, match=r"data\..*: cannot be decompressed \("):
        read_table(path, target="label")
    path.write_bytes(text.encode())  # not compressed at all
    with pytest.raises(DataError, match="cannot be decompressed"):
        read_table(path, target="label")
    other = tmp_path / "data.txt.gz"
    other.write_bytes(compress(text.encode()))
    with pytest.raises(DataError, match=r"unknown file type '\.txt\.gz'.*\.gz"):
        read_table(other, target="label")
    other = tmp_path / "data.csvx"
    other.write_text(text)
    with pytest.raises(DataError, match=r"unknown file type '\.csvx'"):
        read_table(other, target="label")


def test_a_csv_file_without_a_header_line_is_named_so(tmp_path):
    """Where the first line holds numbers alone, the refusals of its
    repeated or missing column names say that it looks like data."""
    path = tmp_path / "data.csv"
    path.write_text("0,1.5,0,2\n1,2.5,3,4\n")
    with pytest.raises(
        DataError,
        match=r"duplicated column names '0'; the first line holds numbers alone: give",
    ):
        read_table(path)
    path.write_text("0,1.5,2\n1,2.5,3\n")
    with pytest.raises(
        DataError,
        match=r"no column 'label'; .* '2'; the first line holds numbers alone",
    ):
        read_table(path, target="label")
    path.write_text(",,x\n1,2,3\n")  # empty names are no numbers
    with pytest.raises(DataError, match=r"duplicated column names ''$"):
        read_table(path)
    path.write_text("400,410,label\n0.1,0.2,x\n")  # numbers, named: a header
    assert read_table(path, target="label").feature_names == ["400", "410"]
    with pytest.raises(DataError, match=r"no column 'kind'; .*'label'$"):
        read_table(path, target="kind")


def test_npz_table(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.eye(3), y=np.array([0, 1, 1]))
    table = read_table(path, target="y")
    np.testing.assert_array_equal(table.features, np.eye(3))
    assert table.target.tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((6,), r"it has shape \(6,\)$"),
        (
            (6, 8, 8),
            r"save X as X\.reshape\(len\(X\), -1\); a model fitted with "
            r"--network conv --input-shape 8,8 reads such rows as images$",
        ),
        (
            (6, 8, 8, 3),
            r"save X as X\.transpose\(0, 3, 1, 2\)\.reshape\(len\(X\), -1\) "
            r"\(channels first\); .* --input-shape 3,8,8 reads",
        ),
        ((6, 2, 2, 2, 2), r"save X as X\.reshape\(len\(X\), -1\)$"),
    ],
)
def test_an_npz_file_of_images_is_told_how_to_save_them_as_rows(
    tmp_path, shape, expected
):
    path = tmp_path / "images.npz"
    np.savez(path, X=np.zeros(shape), y=np.arange(6))
    with pytest.raises(
        DataError, match="X must be 2-D, one sample a row; .*" + expected
    ):
        read_table(path, target="y")


def test_an_npy_file_is_read_as_features_without_labels(tmp_path):
    path = tmp_path / "emb.npy"
    X = np.arange(12, dtype=np.float32).reshape(4, 3) / 7
    np.save(path, X)
    table = read_table(path)
    assert table.features.dtype == np.float64
    np.testing.assert_array_equal(table.features, X)
    assert table.target is None
    assert table.feature_names is None
    no_labels = r"emb\.npy: an \.npy file holds one array, the features, and no"
    with pytest.raises(DataError, match=no_labels + r" labels for --target: save"):
        read_table(path, target="label")
    with pytest.raises(DataError, match=no_labels + r" labels: save both with "):
        read_table(path, require_target=True)
    with pytest.raises(DataError, match=r"an \.npy file has no named columns for --id"):
        read_table(path, id_column="key")
    X[2, 1] = np.nan
    np.save(path, X)
    with pytest.raises(DataError, match=r"1 missing or NaN feature cell \(first: row"):
        read_table(path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            np.zeros((6, 8, 8, 3)),
            r"the array must be 2-D, one sample a row; it has shape \(6, 8, 8, 3\): "
            r"save the array X as X\.transpose\(0, 3, 1, 2\)",
        ),
        (np.array([["a", "b"]]), r"the array must be numeric, its dtype is <U1"),
        (np.array([[{}, {}]], dtype=object), r"the array must be numeric, its dtype"),
    ],
)
def test_an_npy_file_that_cannot_be_features_is_refused_by_its_header(
    tmp_path, array, message
):
    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(DataError, match=message):
        read_table(tmp_path / "x.npy")


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_every_version_of_the_npy_format_is_read(tmp_path, version):
    """numpy.save writes 2.0 where the header outgrows 1.0's (thousands of
    structured fields), and 3.0 where field names need UTF-8."""
    with open(tmp_path / "x.npy", "wb") as f:
        np.lib.format.write_array(f, np.eye(3, 2), version=version)
    np.testing.assert_array_equal(read_table(tmp_path / "x.npy").features, np.eye(3, 2))


def test_a_file_named_npy_that_is_not_one_is_named_so(tmp_path):
    np.savez(tmp_path / "x.npz", X=np.eye(2))
    (tmp_path / "x.npy").write_bytes((tmp_path / "x.npz").read_bytes())
    with pytest.raises(DataError, match=r"an \.npz file \(several arrays\) named"):
        read_table(tmp_path / "x.npy")
    # np.load would take other bytes for a pickle, and say to unpickle them
    (tmp_path / "x.npy").write_bytes(b"1,2\n3,4\n")
    with pytest.raises(DataError, match=r"not an \.npy file as numpy\.save writes"):
        read_table(tmp_path / "x.npy")


def test_a_sparse_npz_file_is_read_as_features_without_labels(tmp_path):
    path = tmp_path / "sparse.npz"
    X = sp.random(5, 7, density=0.3, format="csc", random_state=0, dtype=np.float32)
    sp.save_npz(path, X)
    table = read_table(path)
    assert sp.issparse(table.features)
    assert table.features.format == "csr"
    assert table.features.dtype == np.float64
    np.testing.assert_array_equal(table.features.toarray(), X.toarray())
    assert table.target is None
    assert table.feature_names is None
    with pytest.raises(DataError, match=r"scipy.sparse.save_npz\) and no labels"):
        read_table(path, require_target=True)
    X.data[1] = np.nan
    sp.save_npz(path, X)
    with pytest.raises(DataError, match=r"1 missing or NaN feature cell \(first"):
        read_table(path)


@pytest.mark.parametrize(
    ("sep", "suffix"), [(";", ".csv"), ("\t", ".csv"), ("|", ".csv"), ("\t", ".tsv")]
)
def test_csv_delimiter_is_detected(tmp_path, sep, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_text(sep.join(["a", "label", "b"]) + "\n" + sep.join(["1.5", "x", "2"]))
    table = read_table(path, target="label")
    np.testing.assert_array_equal(table.features, [[1.5, 2.0]])
    assert table.feature_names == ["a", "b"]


def test_decimal_commas(tmp_path):
    """``decimal=","`` reads ``1,5`` as 1.5 in a file delimited by another
    character (detected without the comma among the candidates); without
    it, the refusal says how to read them."""
    path = tmp_path / "data.csv"
    path.write_text("a;label;b\n1,5;x;-2\n3;y;1,25e2\n")
    table = read_table(path, target="label", decimal=",")
    np.testing.assert_array_equal(table.features, [[1.5, -2.0], [3.0, 125.0]])
    assert table.target.tolist() == ["x", "y"]
    with pytest.raises(DataError, match=r"'1,5' in 'a'.*--decimal , reads decimal"):
        read_table(path, target="label")
    with pytest.raises(DataError, match="--sep , is the decimal mark too"):
        read_table(path, target="label", sep=",", decimal=",")
    path.write_text("a;label\n1.5.2;x\n")  # not a decimal comma: no hint
    with pytest.raises(DataError, match=r"'1\.5\.2' in 'a'.*with --id$"):
        read_table(path, target="label")


def test_id_column_is_kept_apart_from_the_features(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("key,a,b\nk1,1,2\nk2,3,4\n")
    table = read_table(path, id_column="key")
    assert table.feature_names == ["a", "b"]
    assert table.ids.tolist() == ["k1", "k2"]
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        ",a,b,label\n0,1.5,2.5,x\n1,3.5,4.5,y\n",  # pandas' to_csv
        '"","a","b","label"\n"1",1.5,2.5,"x"\n"2",3.5,4.5,"y"\n',  # R's write.csv
    ],
    ids=["pandas", "R"],
)
def test_a_csv_row_index_without_a_name_is_not_a_feature(tmp_path, text):
    path = tmp_path / "indexed.csv"
    path.write_text(text)
    table = read_table(path, target="label")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1.5, 2.5], [3.5, 4.5]])
    read_table(path, target="label", feature_names=["b", "a"])  # as a model reads
    row_names = [line.split(",")[0].strip('"') for line in text.splitlines()[1:]]
    assert read_table(path, target="label", id_column="").ids.tolist() == row_names


def test_lists_written_into_csv_cells_are_named_so(tmp_path):
    # pandas' to_csv writes a column of arrays as their rounded text
    cell = '"[' + " ".join(["-0.15854451"] * 16) + ']"'
    (tmp_path / "lists.csv").write_text(f"label,embedding\n0,{cell}\n1,{cell}\n")
    with pytest.raises(DataError) as error:
        read_table(tmp_path / "lists.csv", target="label")
    message = str(error.value)
    assert "(e.g. '[-0.15854451 -0.15854451 -0.15854451 ...' in " in message
    assert "'embedding' holds lists written as text: save the data as " in message


def test_a_delimiter_that_ends_every_line_makes_no_column(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("a,b,label,\n1.5,2.5,x,\n3.5,4.5,y,\n")
    table = read_table(path, target="label")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1.5, 2.5], [3.5, 4.5]])
    # a last column without a name that holds values is still a feature
    path.write_text("a,b,label,\n1.5,2.5,x,7\n3.5,4.5,y,8\n")
    assert read_table(path, target="label").feature_names == ["a", "b", ""]
    # a named column without values is still missing them
    path.write_text("a,b,label,c\n1.5,2.5,x,\n3.5,4.5,y,\n")
    with pytest.raises(DataError, match="2 missing or NaN feature cells"):
        read_table(path, target="label")


def test_a_misspelt_column_is_met_with_the_closest_name(tmp_path):
    header = [f"pixel{i}" for i in range(12)] + ["label"]
    (tmp_path / "t.csv").write_text(",".join(header) + "\n" + ",".join(["1"] * 13))
    with pytest.raises(DataError, match=r"no column 'lable'; did you mean 'label'\?"):
        read_table(tmp_path / "t.csv", target="lable")
    with pytest.raises(DataError) as error:
        read_table(tmp_path / "t.csv", target="colour")
    assert "did you mean" not in str(error.value)


# CSV texts that NumPy's parser reads in one pass, or leaves to the reader
# that takes every cell on its own (missing and truth values, ragged lines),
# and the column of identifiers named
CSV_TEXTS = {
    "numbers": ("a,b,label\n1,2.5,x\n-3e2,.5,y\n", None),
    "quoted and padded": ('a,b,label\n"1", 2.5 ,"x, or y"\n\t3,4 ,"say ""z"""\n', None),
    "line endings": ("a,b,label\r\n1,2,x\r\n\r\n3,4,y\r\n", None),
    "old line endings": ("a,b,label\r1,2,x\r3,4,y\r", None),
    "a line break in a label": ('a,b,label\n1,2,"x\ny"\n3,4,z\n', None),
    "labels as written": ("a,b,label\n1,2,01\n3,4, 1\n5,6,007\n", None),
    "identifiers as written": ("a,b,label\n01,2,1\n 3 ,4,2\n", "a"),
    "special numbers": ("a,b,label\n1,nan,x\n3,inf,y\n", None),
    "missing cells": ("a,b,label\n1,NA,x\n3,,y\n", None),
    "truth values": ("a,b,label\n1,True,x\n3,FALSE,y\n", None),
    "underscores": ("a,b,label\n1_000,2,x\n3,4,y\n", None),
    "a field too many": ("a,b,label\n1,2,x\n3,4,Smith, John\n", None),
    "a field too few": ("a,b,label\n1,2,x\n3,4\n", None),
    "no rows": ("a,b,label\n", None),
    "row index": (',a,b,label\n0,1,2,x\n"1",3,4,y\n', None),
    "row names": (',a,b,label\nMazda,1,2,x\n"Fiat 128",3,4,y\n', None),
    "row names named": (',a,b,label\nMazda,1,2,x\n"Fiat 128",3,4,y\n', ""),
    "trailing delimiter": ("a,b,label,\n1,2,x,\n3,4,y,\n", None),
    "a last column without a name": ("a,b,label,\n1,2,x,5\n3,4,y,6\n", None),
    "a byte order mark": ("\ufeffa,b,label\n1,2,x\n3,4,y\n", None),
    "a line break in the header": ('a,"b\nc",label\n1,2,x\n3,4,y\n', None),
}


def _cell_by_cell_alone(f, *args):
    f.seek(0)  # as _at_once leaves a file it does not read


def _read_or_refused(path, **options):
    try:
        table = read_table(path, **options)
    except DataError as error:
        return str(error)
    return table


@pytest.mark.parametrize(("text", "ids"), CSV_TEXTS.values(), ids=CSV_TEXTS.keys())
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_csv_columns_read_at_once_are_read_as_cell_by_cell(
    tmp_path, monkeypatch, text, ids, suffix
):
    """NumPy's parser, which reads a file's numbers in one pass, gives what
    reading every cell on its own gives: the same numbers, labels and
    identifiers as written, or the same refusal."""
    path = tmp_path / f"data{suffix}"
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as f:
        f.write(text)
    options = {"target": "label", "id_column": ids}
    at_once = _read_or_refused(path, **options)
    monkeypatch.setattr(_files, "_at_once", _cell_by_cell_alone)
    cell_by_cell = _read_or_refused(path, **options)
    if isinstance(cell_by_cell, str):
        assert at_once == cell_by_cell
        return
    assert at_once.feature_names == cell_by_cell.feature_names
    np.testing.assert_array_equal(at_once.features, cell_by_cell.features)
    assert at_once.features.dtype == np.float64
    assert at_once.target.tolist() == cell_by_cell.target.tolist()
    assert at_once.target.dtype == cell_by_cell.target.dtype
    if ids is not None:
        assert at_once.ids.tolist() == cell_by_cell.ids.tolist()
        assert at_once.ids.dtype == cell_by_cell.ids.dtype


# Cells of numbers, written as they may be, and of what may break them
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.text(alphabet='1.e-+ ",\n\raNA_\t', max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=4))
def test_any_csv_text_is_read_at_once_as_cell_by_cell(tmp_path_factory, rows):
    """Whatever the cells, quoted or broken by delimiters, quotes and line
    breaks, both readers give the same table or the same refusal."""
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    lines = ["a,b,label", *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", newline="")
    at_once = _read_or_refused(path, target="label")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(_files, "_at_once", _cell_by_cell_alone)
        cell_by_cell = _read_or_refused(path, target="label")
    if isinstance(cell_by_cell, str) or isinstance(at_once, str):
        assert at_once == cell_by_cell
        return
    np.testing.assert_array_equal(at_once.features, cell_by_cell.features)
    assert at_once.target.tolist() == cell_by_cell.target.tolist()


def test_a_csv_file_of_numbers_is_read_in_one_pass(tmp_path):
    """The columns of numbers, and the label column as written, come from
    NumPy's parser; a column with a missing cell leaves the file to the
    reader of every cell."""
    path = tmp_path / "data.csv"
    path.write_text('a,b,label\n1,2.5,"01"\n3,4,x\n')
    with open(path, newline="") as f:
        columns = _files._at_once(f, ",", ["a", "b", "label"], ("label",))
    assert columns["a"].dtype == np.float64
    assert columns["label"].tolist() == ["01", "x"]
    path.write_text("a,b,label\n1,NA,01\n3,4,x\n")
    with open(path, newline="") as f:
        assert _files._at_once(f, ",", ["a", "b", "label"], ("label",)) is None
        assert f.readline() == "a,b,label\n"  # back at the start
