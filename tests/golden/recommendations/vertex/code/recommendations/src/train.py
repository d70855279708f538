"""Train the two-tower recommendation model (TensorFlow / Keras).

Step `train` (train, framework tensorflow 2.13) of pipeline `nightly` in recommendations.mlspec.

    --train DIR          interactions from `split`, parquet or csv (default $SM_CHANNEL_TRAIN)
    --model DIR          artifact directory (default $SM_MODEL_DIR)
    --embedding_dim 64   hyperparameters from the spec
    --epochs 8
    --batch_size 4096  --learning_rate 0.001  --l2 1e-6

User tower: user id, age band and region embeddings; item tower: item id embedding.
The score is the sigmoid of the towers' dot product, trained on clicks with binary
cross-entropy. The model is exported as a SavedModel under `<model>/1/` (the layout
TensorFlow Serving and the SageMaker TF container expect) with a `serving_default`
signature taking the four string columns and returning `score`.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys

LOG = logging.getLogger("train")

USER_FEATURES = ("user_id", "age_band", "region")
ITEM_FEATURES = ("item_id",)


def _option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    flags = [f"--{name}"]
    if "_" in name:
        flags.append(f"--{name.replace('_', '-')}")
    parser.add_argument(*flags, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _option(p, "train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    _option(p, "model", default=os.environ.get("SM_MODEL_DIR", os.environ.get("AIP_MODEL_DIR", "/opt/ml/model")))
    _option(p, "embedding_dim", type=int, default=64)
    _option(p, "epochs", type=int, default=8)
    _option(p, "batch_size", type=int, default=4096)
    _option(p, "learning_rate", type=float, default=1e-3)
    _option(p, "l2", type=float, default=1e-6)
    _option(p, "seed", type=int, default=3)
    args, unknown = p.parse_known_args(argv)
    if unknown:
        LOG.info("ignoring arguments %s", " ".join(a for a in unknown if a.startswith("--")))
    return args


def build_model(vocab: dict, dim: int, l2: float):
    import tensorflow as tf

    reg = tf.keras.regularizers.l2(l2)
    inputs = {c: tf.keras.Input(shape=(), dtype=tf.string, name=c) for c in USER_FEATURES + ITEM_FEATURES}

    def embed(col: str, width: int):
        lookup = tf.keras.layers.StringLookup(vocabulary=vocab[col], num_oov_indices=1, name=f"{col}_lookup")
        emb = tf.keras.layers.Embedding(len(vocab[col]) + 1, width, embeddings_regularizer=reg, name=f"{col}_emb")
        return emb(lookup(inputs[col]))

    user = tf.keras.layers.Concatenate(name="user_concat")(
        [embed("user_id", dim), embed("age_band", 8), embed("region", 8)])
    user = tf.keras.layers.Dense(dim, activation="relu", kernel_regularizer=reg, name="user_hidden")(user)
    user = tf.keras.layers.Dense(dim, kernel_regularizer=reg, name="user_out")(user)
    item = tf.keras.layers.Dense(dim, kernel_regularizer=reg, name="item_out")(embed("item_id", dim))
    logit = tf.keras.layers.Dot(axes=1, name="affinity")([user, item])
    score = tf.keras.layers.Activation("sigmoid", name="score")(logit)
    return tf.keras.Model(inputs=inputs, outputs=score, name="two_tower")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import pandas as pd
    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.seed)
    files = sorted(f for f in glob.glob(os.path.join(args.train, "**", "*"), recursive=True) if os.path.isfile(f))
    frames = [pd.read_parquet(f) for f in files if f.endswith(".parquet")]
    frames += [pd.read_csv(f, dtype={c: str for c in USER_FEATURES + ITEM_FEATURES}) for f in files if f.endswith(".csv")]
    if not frames:
        raise SystemExit(f"no parquet or csv files under {args.train}")
    df = pd.concat(frames, ignore_index=True)
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df = df.sort_values("ts")
    # Vocabularies come from the training window only: ids first seen later are out-of-vocabulary.
    vocab = {c: sorted(df[c].astype(str).unique().tolist()) for c in USER_FEATURES + ITEM_FEATURES}

    # The most recent 5% of training interactions validate the epochs (time order again).
    n_val = max(1, len(df) // 20)
    fit, val = df.iloc[:-n_val], df.iloc[-n_val:]
    cols = list(USER_FEATURES + ITEM_FEATURES)

    def dataset(frame, shuffle: bool):
        ds = tf.data.Dataset.from_tensor_slices(({c: frame[c].astype(str).values for c in cols},
                                                 frame["clicked"].astype("float32").values))
        if shuffle:
            ds = ds.shuffle(min(len(frame), 1_000_000), seed=args.seed)
        return ds.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

    model = build_model(vocab, args.embedding_dim, args.l2)
    model.compile(optimizer=tf.keras.optimizers.Adam(args.learning_rate),
                  loss=tf.keras.losses.BinaryCrossentropy(),
                  metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.Recall(name="recall")])
    history = model.fit(dataset(fit, True), validation_data=dataset(val, False), epochs=args.epochs,
                        callbacks=[tf.keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=2,
                                                                    restore_best_weights=True)],
                        verbose=2)
    best_auc = max(history.history.get("val_auc", [0.0]))
    print(f"val_auc={best_auc:.6f}")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=c) for c in cols])
    def serve(user_id, age_band, region, item_id):
        return {"score": model({"user_id": user_id, "age_band": age_band, "region": region,
                                "item_id": item_id}, training=False)}

    export_dir = os.path.join(args.model, "1")
    tf.saved_model.save(model, export_dir, signatures={"serving_default": serve})
    with open(os.path.join(args.model, "model_info.json"), "w", encoding="utf-8") as f:
        json.dump({"inputs": cols, "output": "score", "embedding_dim": args.embedding_dim,
                   "epochs_run": len(history.history["loss"]), "val_auc": best_auc,
                   "users": len(vocab["user_id"]), "items": len(vocab["item_id"])}, f, indent=2)
    LOG.info("exported SavedModel to %s", export_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
