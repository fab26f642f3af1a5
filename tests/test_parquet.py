"""Reading Parquet files: pandas' row index, columns of lists, dates."""

import datetime

import numpy as np
import pytest

from sklearn_dsc._files import DataError, read_table


def test_pandas_row_index_in_parquet_is_not_a_feature(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.0, 1.5, 2.0], "label": list("xyxy")}
    )
    # a filtered frame keeps an index that to_parquet stores as a column
    frame[frame.a != 2.0].to_parquet(tmp_path / "rows.parquet")
    table = read_table(tmp_path / "rows.parquet", target="label")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1.0, 0.5], [3.0, 1.5], [4.0, 2.0]])
    # with a model's feature names, as `sklearn-dsc cluster` reads
    read_table(tmp_path / "rows.parquet", feature_names=["a", "b"], target="label")
    # a named index can still be the target
    frame.set_index("label").to_parquet(tmp_path / "named.parquet")
    table = read_table(tmp_path / "named.parquet", target="label")
    assert table.feature_names == ["a", "b"]
    assert table.target.tolist() == list("xyxy")


def test_a_parquet_column_of_lists_is_a_feature_a_value(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    embedding = [[0.5, 1.0, 1.5], [2.0, 2.5, 3.0], [3.5, 4.0, 4.5], [5.0, 5.5, 6.0]]
    columns = {"size": [1, 2, 3, 4], "embedding": embedding, "label": list("xyxy")}
    expected = np.column_stack([columns["size"], embedding])
    names = ["size", "embedding[0]", "embedding[1]", "embedding[2]"]
    lists = {
        "list": pa.list_(pa.float32()),
        "large list": pa.large_list(pa.float64()),
        "fixed-size list": pa.list_(pa.float64(), 3),
    }
    for kind, list_type in lists.items():
        table = pa.table(
            {
                "size": columns["size"],
                "embedding": pa.array(embedding, type=list_type),
                "label": columns["label"],
            }
        )
        pq.write_table(table, tmp_path / "data.parquet", row_group_size=3)
        read = read_table(tmp_path / "data.parquet", target="label")
        assert read.feature_names == names, kind
        np.testing.assert_array_equal(read.features, expected, err_msg=kind)
        # with a model's feature names, as `sklearn-dsc transform` reads
        again = read_table(
            tmp_path / "data.parquet", "label", feature_names=names[::-1]
        )
        np.testing.assert_array_equal(again.features, expected[:, ::-1])

    def refused(message, **changed):
        data = {**columns, **changed}
        pq.write_table(pa.table(data), tmp_path / "bad.parquet")
        with pytest.raises(DataError, match=message):
            read_table(tmp_path / "bad.parquet", target="label")

    refused(
        r"'embedding' holds lists of 2 to 3 values \(3 in row 1, 2 in row 3\)",
        embedding=[[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0], [0.0, 0.0, 0.0]],
    )
    refused(
        r"2 missing lists in column 'embedding' \(first: row 2\)",
        embedding=[[0.0, 1.0], None, [1.0, 2.0], None],
    )
    refused(
        r"1 missing list in column 'embedding' \(first: row 4\)",
        embedding=[[0.0, 1.0], [0.0, 1.0], [1.0, 2.0], None],
    )
    refused(r"'embedding' holds lists of lists", embedding=[[[1.0]]] * 4)
    refused(r"'embedding' holds empty lists alone", embedding=[[]] * 4)
    refused(r"--target 'label' names a column of lists", label=[[1], [2], [1], [2]])
    refused(
        r"but 'embedding\[0\]' is a column already",
        **{"embedding[0]": [1.0, 2.0, 3.0, 4.0]},
    )
    refused(
        r"1 missing or NaN feature cell \(first: row 3, column 'embedding\[1\]'\)",
        embedding=[[0.0, 1.0], [1.0, 2.0], [1.0, None], [0.0, 0.0]],
    )


def test_parquet_dates_and_durations_are_not_taken_as_numbers(tmp_path):
    # as nanoseconds since 1970 they would outweigh every other feature
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    when = [datetime.datetime(2020, 1, day) for day in (1, 2, 3)]
    times = {
        "timestamp": pa.array(when, type=pa.timestamp("ns")),
        "date": pa.array([moment.date() for moment in when], type=pa.date32()),
        "time": pa.array([moment.time() for moment in when], type=pa.time64("us")),
        "duration": pa.array([1, 2, 3], type=pa.duration("s")),
        # a missing value once turned nanoseconds into integers
        "timestamp, one missing": pa.array([None, *when[1:]], type=pa.timestamp("ns")),
        "time, one missing": pa.array([None, *[m.time() for m in when[1:]]]),
        "duration, one missing": pa.array([1, None, 3], type=pa.duration("s")),
    }
    for kind, column in times.items():
        table = pa.table({"size": [1.0, 2.0, 3.0], "when": column, "label": [0, 1, 0]})
        pq.write_table(table, tmp_path / "data.parquet")
        with pytest.raises(DataError, match="date or time feature column 'when': "):
            read_table(tmp_path / "data.parquet", target="label")
        read = read_table(tmp_path / "data.parquet", target="label", id_column="when")
        assert read.feature_names == ["size"], kind
