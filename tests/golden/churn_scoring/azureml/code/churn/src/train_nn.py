"""Train the neural churn classifier (PyTorch); run by the `tune_nn` tuning step.

Step `tune_nn` (tune, framework pytorch 2.1) of pipeline `weekly` in churn_scoring.mlspec.
The tuner varies `--lr`, `--hidden` and `--dropout` and maximises the objective `auc`,
which this script prints as `auc=<value>` (the metric definition scrapes the log) and
reports to Vertex AI's hypertune when that library is present.

    --train DIR      features written by `features` (default $SM_CHANNEL_TRAIN)
    --model DIR      artifact directory (default $SM_MODEL_DIR)
    --lr 0.001  --hidden 128  --dropout 0.1  --epochs 30  --batch_size 512

Writes `model.pt` (traced TorchScript, so scoring needs no Python class) and `features.json`
with the standardisation statistics the network expects.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys

LOG = logging.getLogger("train_nn")


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    _option(p, "model", default=os.environ.get("SM_MODEL_DIR", os.environ.get("AIP_MODEL_DIR", "/opt/ml/model")))
    _option(p, "lr", type=float, default=1e-3)
    _option(p, "hidden", type=int, default=128)
    _option(p, "dropout", type=float, default=0.1)
    _option(p, "epochs", type=int, default=30)
    _option(p, "batch_size", type=int, default=512)
    _option(p, "patience", type=int, default=4)
    _option(p, "seed", type=int, default=11)
    args, unknown = p.parse_known_args(argv)
    if unknown:
        LOG.info("ignoring arguments %s", " ".join(a for a in unknown if a.startswith("--")))
    return args


LABEL = "churned"
ID_COLUMN = "subscriber_id"


def read_table(path: str):
    """Every parquet or csv file under `path` (a channel may hold several parts)."""
    import pandas as pd

    files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = [pd.read_parquet(f) for f in files if f.endswith((".parquet", ".pq"))]
    frames += [pd.read_csv(f) for f in files if f.endswith(".csv")]
    if not frames:
        raise SystemExit(f"no parquet or csv files under {path}")
    return pd.concat(frames, ignore_index=True)


def feature_spec(df) -> dict:
    """Model features: the numeric columns other than the id and the label, in file order."""
    from pandas.api.types import is_numeric_dtype

    features = [c for c in df.columns if c not in (LABEL, ID_COLUMN) and is_numeric_dtype(df[c])]
    return {"features": features, "label": LABEL, "id": ID_COLUMN}


def report_objective(name: str, value: float, step: int) -> None:
    """Make the tuning objective visible to every cloud's tuner."""
    print(f"{name}={value:.6f}", flush=True)
    try:
        import hypertune  # Vertex AI hyperparameter tuning

        hypertune.HyperTune().report_hyperparameter_tuning_metric(
            hyperparameter_metric_tag=name, metric_value=value, global_step=step)
    except ImportError:
        pass


def build_network(n_features: int, hidden: int, dropout: float):
    import torch.nn as nn

    return nn.Sequential(
        nn.Linear(n_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden // 2, 1),
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    torch.manual_seed(args.seed)
    df = read_table(args.train)
    spec = feature_spec(df)
    features, label = spec["features"], spec["label"]

    rng = np.random.default_rng(args.seed)
    is_val = rng.random(len(df)) < 0.15
    X = df[features].astype("float32").fillna(0.0).to_numpy()
    y = df[label].astype("float32").to_numpy()
    mean, std = X[~is_val].mean(axis=0), X[~is_val].std(axis=0) + 1e-6
    Xn = (X - mean) / std
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    xt, yt = torch.tensor(Xn[~is_val]), torch.tensor(y[~is_val])
    xv, yv = torch.tensor(Xn[is_val]).to(device), y[is_val]

    net = build_network(len(features), args.hidden, args.dropout).to(device)
    pos_weight = torch.tensor([(len(yt) - yt.sum().item()) / max(yt.sum().item(), 1.0)], device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=args.batch_size,
                                         shuffle=True, drop_last=True)
    best_auc, best_state, stale = -1.0, None, 0
    for epoch in range(1, args.epochs + 1):
        net.train()
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss = loss_fn(net(xb).squeeze(1), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        net.eval()
        with torch.no_grad():
            val_scores = torch.sigmoid(net(xv).squeeze(1)).cpu().numpy()
        auc = float(roc_auc_score(yv, val_scores))
        LOG.info("epoch %d loss %.4f val_auc %.4f", epoch, total / max(len(xt), 1), auc)
        if auc > best_auc + 1e-4:
            best_auc, stale = auc, 0
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= args.patience:
                LOG.info("early stop after epoch %d", epoch)
                break
    report_objective("auc", best_auc, epoch)

    net.load_state_dict(best_state)
    net = net.cpu().eval()

    class Scorer(torch.nn.Module):
        """Standardise, run the network, return churn probabilities."""

        def __init__(self, inner, mu, sigma):
            super().__init__()
            self.inner = inner
            self.register_buffer("mu", torch.tensor(mu))
            self.register_buffer("sigma", torch.tensor(sigma))

        def forward(self, x):
            return torch.sigmoid(self.inner((x - self.mu) / self.sigma).squeeze(1))

    # Traced (not scripted): the network is a fixed feed-forward graph, and tracing needs
    # no access to this file's source at load time.
    example = torch.zeros(2, len(features), dtype=torch.float32)
    traced = torch.jit.trace(Scorer(net, mean.astype("float32"), std.astype("float32")).eval(), example)
    os.makedirs(args.model, exist_ok=True)
    traced.save(os.path.join(args.model, "model.pt"))
    with open(os.path.join(args.model, "features.json"), "w", encoding="utf-8") as f:
        json.dump({**spec, "kind": "torchscript", "val_auc": best_auc,
                   "hyperparameters": {"lr": args.lr, "hidden": args.hidden, "dropout": args.dropout}}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
