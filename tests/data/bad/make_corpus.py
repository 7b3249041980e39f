"""Writes the bad-input corpus beside this file (run it to regenerate; the files are committed).

Every file is small and made from the package's synthetic sample, never from
real data. ``CASES`` in ``tests/test_bad_input.py`` says what each one must do.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from nnscratch.synthetic import make_tracks

HERE = Path(__file__).resolve().parent


def base(n: int = 40):
    df = make_tracks(n, seed=2024, junk_fraction=0.0)
    for col in df.columns:
        if df[col].dtype.kind in "iuf":
            df[col] = df[col].astype(object)
    return df


def write(name: str, text: str | bytes) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    (HERE / name).write_bytes(data)


def main() -> None:
    good = base()
    csv = good.to_csv(index=False)
    write("empty.csv", "")
    write("header_only.csv", csv.splitlines()[0] + "\n")
    numeric = make_tracks(40, seed=2024, junk_fraction=0.0)
    write("semicolon.csv", numeric.to_csv(index=False, sep=";", decimal=","))
    write("tab.csv", good.to_csv(index=False, sep="\t"))
    write("missing_popularity.csv", good.drop(columns=["popularity"]).to_csv(index=False))
    write("missing_feature.csv", good.drop(columns=["liveness"]).to_csv(index=False))
    df = good.copy()
    df["danceability"] = ["high", "low", "n/a", "?"] * (len(df) // 4)
    write("nonnumeric_feature.csv", df.to_csv(index=False))
    df = good.copy()
    df.loc[[0, 5], "popularity"] = [150, -5]
    df.loc[7, "tempo"] = -120.0
    write("out_of_range.csv", df.to_csv(index=False))
    df = good.copy()
    df["release_date"] = ["sometime", "31/02/1999", "soon", ""] * (len(df) // 4)
    write("release_date_garbage.csv", df.to_csv(index=False))
    write("bom_crlf.csv", "\ufeff" + csv.replace("\n", "\r\n"))
    df = good.copy()
    df.loc[:5, "name"] = ["Café", "Señor", "Über", "Ça va", "Déjà vu", "Niño"]
    write("latin1.csv", df.to_csv(index=False).encode("latin-1"))
    write("binary.csv", bytes(np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8)))
    header = csv.splitlines()[0].replace("liveness", "energy")
    write("duplicated_columns.csv", "\n".join([header, *csv.splitlines()[1:]]) + "\n")
    df = good.copy()
    df.loc[[1, 2], "name"] = ["Line one\nline two", 'Quote "inside"\nand a newline']
    write("embedded_newlines.csv", df.to_csv(index=False))
    write("one_row.csv", good.head(1).to_csv(index=False))
    df = good.copy()
    df.loc[0, "loudness"] = "inf"
    df.loc[1, "tempo"] = "-inf"
    df.loc[2, "energy"] = "1e309"
    write("infinite_values.csv", df.to_csv(index=False))
    packed = gzip.compress(csv.encode())
    write("truncated.csv.gz", packed[: len(packed) // 2])


if __name__ == "__main__":
    main()
