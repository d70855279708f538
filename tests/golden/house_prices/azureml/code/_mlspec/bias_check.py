"""mlspec fairness step: the spec's bias metric per facet value, as SageMaker Clarify defines it.

Pre-training metrics (dpl, kl, js, lp, tvd, ks) compare the distribution of the data's labels
for the rows with one facet value (d) with that of every other row (a); post-training metrics
(dppl, di) compare the model's predicted labels the same way. Like the SageMaker target's limit
check, the step's disparity is the largest |value| over every facet value (|1 - value| for
di, a ratio whose parity is 1) and the step fails above `max_disparity`.
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-measure-data-bias.html
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-measure-post-training-bias.html
"""
import math

from _common import fail, load_model, log_metrics, parse, predicted_labels, read_table, write_json

PREDICTION_METRICS = ("dppl", "di")


def distribution(labels, classes):
    n = len(labels)
    return [float((labels == c).sum()) / n if n else 0.0 for c in classes]


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0 and qi > 0)


def metric_value(metric, y, in_d, positive):
    """Clarify's metric for facet d (rows in_d) against the rest (a); `y` holds the labels
    (pre-training metrics) or the predicted labels (dppl, di)."""
    ya, yd = y[~in_d], y[in_d]
    if len(ya) == 0 or len(yd) == 0:
        return 0.0
    qa, qd = float((ya == positive).mean()), float((yd == positive).mean())
    if metric in ("dpl", "dppl"):
        return qa - qd
    if metric == "di":
        return qd / qa if qa else 0.0
    classes = sorted(set(y.tolist()), key=str)
    pa, pd_ = distribution(ya, classes), distribution(yd, classes)
    if metric == "kl":
        return _kl(pa, pd_)
    if metric == "js":
        mid = [(x + z) / 2 for x, z in zip(pa, pd_)]
        return (_kl(pa, mid) + _kl(pd_, mid)) / 2
    if metric == "lp":
        return math.sqrt(sum((x - z) ** 2 for x, z in zip(pa, pd_)))
    if metric == "tvd":
        return sum(abs(x - z) for x, z in zip(pa, pd_)) / 2
    if metric == "ks":
        return max(abs(x - z) for x, z in zip(pa, pd_))
    fail("bias metric %s is not one of dpl, kl, js, lp, tvd, ks, dppl, di" % metric)


def disparity(metric, value):
    """How far a value is from parity: |1 - DI| for disparate impact, else |value|."""
    return abs(1.0 - value) if metric == "di" else abs(value)


def predicted_positive(loading, positive_label):
    """The favourable predicted label: thresholded probabilities are 1/0; a label-predicting model
    answers in the label's values (`positive_label`, default 1)."""
    if loading.get("prediction") == "probability" or positive_label is None:
        return 1
    return positive_label


def facet_disparities(metric, y, frame, facets, positive, source):
    """Clarify's metric for every value of every facet of `frame` (y: labels or predicted labels,
    aligned with it), and each facet's largest distance from parity."""
    report = {}
    for facet in facets:
        if facet not in frame.columns:
            fail("%s has no facet column %s" % (source, facet))
        values = {str(v): metric_value(metric, y, frame[facet] == v, positive)
                  for v in sorted(frame[facet].dropna().unique().tolist(), key=str)}
        report[facet] = {"max_abs": max((disparity(metric, v) for v in values.values()), default=0.0),
                         "values": values}
    return report


def main():
    args, cfg = parse("model", "data", outputs=("report",))
    df = read_table(args.data, cfg.get("data_format"))
    metric = cfg["metric"]
    if metric in PREDICTION_METRICS:
        loading = cfg.get("model_loading") or {}
        model = load_model(args.model, loading)
        features = getattr(model, "features", None) or [c for c in df.columns if c != cfg["label"]]
        missing = [c for c in features if c not in df.columns]
        if missing:
            fail("the data lacks the model's feature column(s) %s" % ", ".join(missing[:5]))
        import pandas as pd
        y = pd.Series(list(predicted_labels(model.predict(df[features]), loading)), index=df.index)
        positive = predicted_positive(loading, cfg.get("positive_label"))
    else:
        if cfg["label"] not in df.columns:
            fail("the data has no label column %s" % cfg["label"])
        y = df[cfg["label"]]
        positive = cfg.get("positive_label")
        if positive is None:
            positive = 1
        if y.dtype == bool or str(y.dtype) == "boolean":
            positive = bool(positive)
    report = facet_disparities(metric, y, df, cfg["facets"], positive, "the data")
    write_json(args.report, "bias.json", {"metric": metric, "max_disparity": cfg["max_disparity"],
                                          "rows": len(df), "data_format": cfg.get("data_format"),
                                          "disparity": report})
    log_metrics({"bias_%s_%s" % (metric, facet): r["max_abs"] for facet, r in report.items()})
    worst = sorted(f for f, r in report.items() if r["max_abs"] > cfg["max_disparity"])
    if worst:
        fail("%s above %s for %s" % (metric, cfg["max_disparity"],
                                     ", ".join("%s (%.4f)" % (f, report[f]["max_abs"]) for f in worst)))
    print("mlspec: %s within %s for %s" % (metric, cfg["max_disparity"], ", ".join(sorted(report))))


if __name__ == "__main__":
    main()
