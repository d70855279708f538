"""Prepare house sales for training: one-hot regions, drop the id, split 80/20.

Step `prepare` (process) of pipeline `training` in house_prices.mlspec. Command line (the
script contract):

    --data DIR     the validated sales (csv with a header)
    --train DIR    empty directory: receives train.parquet
    --test DIR     empty directory: receives test.parquet

The split is by a hash of `sale_id`, so a sale stays on its side when new data arrives.
"""
from __future__ import annotations

import argparse
import zlib

from tables import read_dir, write_parquet

REGIONS = ("east", "north", "south", "west")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    return p.parse_args(argv)


def features(df):
    """The model's inputs: numeric columns plus one indicator per known region."""
    out = df[["sqft", "rooms"]].astype("float64").copy()
    for region in REGIONS:
        out[f"region_{region}"] = (df["region"] == region).astype("float64")
    out["price"] = df["price"].astype("float64")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    df = read_dir(args.data)
    held_out = df["sale_id"].map(lambda k: zlib.crc32(str(k).encode()) % 5 == 0)
    table = features(df)
    write_parquet(table[~held_out], args.train, "train")
    write_parquet(table[held_out], args.test, "test")
    print(f"prepare: {int((~held_out).sum())} training rows, {int(held_out.sum())} test rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
