"""Split interactions by time and turn them into ranking features.

Step `split` (process) of pipeline `nightly` in recommendations.mlspec. Command line
(the script contract; the spec names the input `events`):

    --events  DIR   the validate step's `data`: interaction events (jsonl, csv or parquet)
    --train   DIR   output: training rows (csv with a header, the spec's `output_format`)
    --holdout DIR   output: the last HOLDOUT_DAYS of events, for evaluate / bias check / explain

The holdout is strictly later than training, so the model is scored on the future. The
features of both outputs (user and item click-through rates and activity, one-hot age
band and region) are computed from the training window only; `user_id`, `item_id`,
`age_band` and `region` are kept for per-user ranking metrics and the bias check.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys

from common import flag, read_table, write_table

LOG = logging.getLogger("split")

HOLDOUT_DAYS = 7
LABEL = "clicked"
AGE_BANDS = ("18-24", "25-34", "35-54", "55+")
FOLDS = 5  # training rows' click-through rates are computed out of fold
PRIOR_WEIGHT = 10.0  # clicks-through rates are shrunk towards the global rate by this many events


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    flag(p, "events", required=True)
    flag(p, "train", required=True)
    flag(p, "holdout", required=True)
    return p.parse_args(argv)


def rates(train, key: str, prior: float) -> dict:
    """Smoothed click-through rate and log activity per value of `key`, from training rows."""
    g = train.groupby(key)[LABEL].agg(["sum", "count"])
    return {k: ((row["sum"] + prior * PRIOR_WEIGHT) / (row["count"] + PRIOR_WEIGHT), math.log1p(row["count"]))
            for k, row in g.iterrows()}


def featurize(df, user_stats: dict, item_stats: dict, prior: float, regions: list[str]):
    out = df[["user_id", "item_id", "age_band", "region", "ts", LABEL]].copy()
    out["user_ctr"] = df["user_id"].map(lambda u: user_stats.get(u, (prior, 0.0))[0])
    out["user_activity"] = df["user_id"].map(lambda u: user_stats.get(u, (prior, 0.0))[1])
    out["item_ctr"] = df["item_id"].map(lambda i: item_stats.get(i, (prior, 0.0))[0])
    out["item_popularity"] = df["item_id"].map(lambda i: item_stats.get(i, (prior, 0.0))[1])
    for band in AGE_BANDS:
        out[f"age_{band.replace('-', '_').replace('+', 'plus')}"] = (df["age_band"] == band).astype(int)
    for r in regions:
        out[f"region_{r}"] = (df["region"] == r).astype(int)
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import pandas as pd

    df = read_table(args.events)
    for c in ("user_id", "item_id", "age_band", "region"):
        df[c] = df[c].fillna("unknown").astype(str)
    df[LABEL] = df[LABEL].astype(int)
    # `timestamp` columns arrive as ISO-8601 strings or as epoch seconds (jsonl numbers)
    ts = df["ts"]
    df["ts"] = pd.to_datetime(ts, unit="s", utc=True) if pd.api.types.is_numeric_dtype(ts) else pd.to_datetime(ts, utc=True)
    df = df.drop_duplicates(subset=["user_id", "item_id", "ts"]).sort_values("ts")
    cutoff = df["ts"].max() - pd.Timedelta(days=HOLDOUT_DAYS)
    train, holdout = df[df["ts"] <= cutoff], df[df["ts"] > cutoff]
    # Score only users and items the model has seen, and users with a click and a non-click.
    holdout = holdout[holdout["user_id"].isin(set(train["user_id"])) & holdout["item_id"].isin(set(train["item_id"]))]
    per_user = holdout.groupby("user_id")[LABEL].agg(["sum", "count"])
    rankable = set(per_user[(per_user["sum"] > 0) & (per_user["sum"] < per_user["count"])].index)
    holdout = holdout[holdout["user_id"].isin(rankable)]
    if train.empty or holdout.empty:
        LOG.error("empty split (train %d rows, holdout %d rows)", len(train), len(holdout))
        return 1
    prior = float(train[LABEL].mean())
    users, items = rates(train, "user_id", prior), rates(train, "item_id", prior)
    regions = sorted(train["region"].value_counts().index[:8])
    # Training rows get out-of-fold rates: each fold's features come from the other folds, so
    # no row's features contain its own label (the model would learn the leak, not the signal).
    train = train.reset_index(drop=True)
    fold = train.index % FOLDS
    parts = []
    for f in range(FOLDS):
        rest = train[fold != f]
        parts.append(featurize(train[fold == f], rates(rest, "user_id", prior), rates(rest, "item_id", prior),
                               prior, regions))
    write_table(pd.concat(parts).sort_values("ts", kind="stable"), args.train, "train", "csv")
    write_table(featurize(holdout, users, items, prior, regions), args.holdout, "holdout", "csv")
    LOG.info("cut-off %s: train=%d rows, holdout=%d rows (%d users)", cutoff.isoformat(), len(train),
             len(holdout), len(rankable))
    return 0


if __name__ == "__main__":
    sys.exit(main())
