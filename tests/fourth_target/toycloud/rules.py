"""The Toy Cloud's one baseline rule (its id comes from ToyCloud.baseline_rules())."""
from __future__ import annotations

from mlspec.compiler.plan.graph import Graph, rule


@rule("MLS-TOY-001", cloud="toy", resource="toy:storage:Bucket", property="encrypted", default="true")
def check_bucket_encrypted(g: Graph):
    for r in g.of("toy:storage:Bucket"):
        if r["inputs"].get("encrypted") is not True:
            yield r, "bucket is not encrypted"
