"""Deterministic sample of interactions for `mlspec run` (dataset `interactions`).

    python generate.py OUT_DIR [--rows 5000] [--seed 5]

Items have an appeal (a few are clicked far more often than the rest) and users click
items of their preferred genre more often; timestamps span 30 days so the example's split
has a holdout window. The example's prod checks ask for 1,000,000 rows; its `staging`
environment checks for what this sample holds (`mlspec run ... --env staging`).
"""
import argparse
import json
import os
import random


def make(rows: int, seed: int):
    rng = random.Random(seed)
    bands = ["18-24", "25-34", "35-54", "55+"]
    regions = ["north", "south", "east", "west"]
    users = [(f"u{i:04d}", rng.choice(bands), rng.choice(regions), rng.randrange(5)) for i in range(400)]
    appeal = [rng.random() ** 2 for _ in range(200)]
    start = 1767225600  # 2026-01-01T00:00:00Z
    for n in range(rows):
        uid, band, region, genre = users[n % len(users)]
        item = rng.randrange(200)
        clicked = int(rng.random() < 0.01 + 0.8 * appeal[item] + (0.2 if item % 5 == genre else 0.0))
        ts = start + (n * 2592000) // rows
        yield {"user_id": uid, "item_id": f"i{item:03d}", "age_band": band, "region": region,
               "ts": ts, "clicked": clicked}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "interactions.jsonl"), "w", encoding="utf-8") as f:
        for row in make(a.rows, a.seed):
            f.write(json.dumps(row, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
