"""Split shopper interactions into train and a time-based holdout.

Step `split` (process) of pipeline `nightly` in recommendations.mlspec.

    --data    DIR       validated interactions (jsonl or parquet; the validate step's output)
    --train   DIR       output: interactions before the cut-off
    --holdout DIR       output: the last `--holdout_days` of interactions, for users and items
                        seen in training (cold-start is served by a popularity fallback)
    --holdout_days 7
    --min_user_events 3 drop users with fewer events in the training window
    --max_events_per_user 500  cap heavy users (bots, crawlers) so they don't dominate
    --output_format parquet    (or `csv` with a header)

Splitting by time rather than at random keeps the holdout honest: the model never sees
the future it is scored on.
"""
from __future__ import annotations

import argparse
import glob
import logging
import os
import sys

LOG = logging.getLogger("split")

CATEGORICAL = ("user_id", "item_id", "age_band", "region")


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "data", default="/opt/ml/processing/input/0")
    _option(p, "train", default="/opt/ml/processing/output/train")
    _option(p, "holdout", default="/opt/ml/processing/output/holdout")
    _option(p, "holdout_days", type=int, default=7)
    _option(p, "min_user_events", type=int, default=3)
    _option(p, "max_events_per_user", type=int, default=500)
    _option(p, "output_format", choices=("parquet", "csv"), default="parquet")
    return p.parse_args(argv)


def read_interactions(path: str):
    import pandas as pd

    files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = [pd.read_json(f, lines=True, dtype={"user_id": str, "item_id": str})
              for f in files if f.endswith((".jsonl", ".json", ".jsonl.gz"))]
    frames += [pd.read_parquet(f) for f in files if f.endswith(".parquet")]
    if not frames:
        raise SystemExit(f"no jsonl or parquet files under {path}")
    df = pd.concat(frames, ignore_index=True)
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    for c in CATEGORICAL:
        df[c] = df[c].fillna("unknown").astype(str)
    df["clicked"] = df["clicked"].astype(int)
    return df


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import pandas as pd

    df = read_interactions(args.data)
    df = df.drop_duplicates(subset=["user_id", "item_id", "ts"]).sort_values("ts")
    cutoff = df["ts"].max() - pd.Timedelta(days=args.holdout_days)
    train, holdout = df[df["ts"] <= cutoff], df[df["ts"] > cutoff]

    # Cap heavy users to their most recent events, then drop users with too little history.
    train = train.groupby("user_id", group_keys=False).tail(args.max_events_per_user)
    counts = train["user_id"].value_counts()
    keep_users = set(counts[counts >= args.min_user_events].index)
    train = train[train["user_id"].isin(keep_users)]
    known_items = set(train["item_id"])
    cold = len(holdout)
    holdout = holdout[holdout["user_id"].isin(keep_users) & holdout["item_id"].isin(known_items)]
    # A holdout user needs at least one click and one non-click for ranking metrics to mean anything.
    per_user = holdout.groupby("user_id")["clicked"].agg(["sum", "count"])
    rankable = per_user[(per_user["sum"] > 0) & (per_user["sum"] < per_user["count"])].index
    holdout = holdout[holdout["user_id"].isin(set(rankable))]
    LOG.info("cut-off %s: train=%d rows (%d users, %d items); holdout=%d rows (%d dropped as cold or unrankable)",
             cutoff.isoformat(), len(train), len(keep_users), len(known_items), len(holdout), cold - len(holdout))
    if train.empty or holdout.empty:
        LOG.error("empty split; lower --holdout_days or --min_user_events")
        return 1

    for directory, frame, name in ((args.train, train, "train"), (args.holdout, holdout, "holdout")):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{name}.{args.output_format}")
        if args.output_format == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
