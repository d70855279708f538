"""mlspec fairness step: the spec's bias metric per facet value, as SageMaker Clarify defines it.

The metrics the language offers (dpl, di, kl, js, lp, tvd, ks) are Clarify's pre-training bias
metrics: they compare the label distribution of the rows with one facet value (d) with that of
every other row (a). Like the SageMaker target's limit check, the step takes the largest
absolute value over every facet value and fails above `max_disparity`.
https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-measure-data-bias.html
"""
import math

from _common import fail, log_metrics, parse, read_table, write_json


def distribution(labels, classes):
    n = len(labels)
    return [float((labels == c).sum()) / n if n else 0.0 for c in classes]


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0 and qi > 0)


def metric_value(metric, y, in_d, positive):
    """Clarify's pre-training metric for facet d (rows in_d) against the rest (a)."""
    ya, yd = y[~in_d], y[in_d]
    if len(ya) == 0 or len(yd) == 0:
        return 0.0
    qa, qd = float((ya == positive).mean()), float((yd == positive).mean())
    if metric == "dpl":
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
    fail("bias metric %s needs a group variable the spec cannot name; use dpl, di, kl, js, lp, tvd or ks" % metric)


args, cfg = parse("model", "data", outputs=("report",))
df = read_table(args.data, cfg.get("data_format"))
if cfg["label"] not in df.columns:
    fail("the data has no label column %s" % cfg["label"])
y = df[cfg["label"]]
positive = cfg.get("positive_label")
if positive is None:
    positive = 1
if y.dtype == bool or str(y.dtype) == "boolean":
    positive = bool(positive)
report = {}
for facet in cfg["facets"]:
    if facet not in df.columns:
        fail("the data has no facet column %s" % facet)
    values = {str(v): metric_value(cfg["metric"], y, df[facet] == v, positive)
              for v in sorted(df[facet].dropna().unique().tolist(), key=str)}
    report[facet] = {"max_abs": max((abs(v) for v in values.values()), default=0.0), "values": values}
write_json(args.report, "bias.json", {"metric": cfg["metric"], "max_disparity": cfg["max_disparity"],
                                      "disparity": report})
log_metrics({"bias_%s_%s" % (cfg["metric"], facet): r["max_abs"] for facet, r in report.items()})
worst = sorted(f for f, r in report.items() if r["max_abs"] > cfg["max_disparity"])
if worst:
    fail("%s above %s for %s" % (cfg["metric"], cfg["max_disparity"],
                                 ", ".join("%s (%.4f)" % (f, report[f]["max_abs"]) for f in worst)))
print("mlspec: %s within %s for %s" % (cfg["metric"], cfg["max_disparity"], ", ".join(sorted(report))))
