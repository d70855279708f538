"""docs/language.md's compute-class table is what the targets choose (issue 10 item 4): one
table, the same GPU count and memory class on every cloud, the machine per cloud read from the
targets' own tables."""
from __future__ import annotations

import re
from pathlib import Path

from mlspec.compiler.check.pipeline import COMPUTE_CLASSES
from mlspec.targets.azureml.lower import CLUSTER_SKU
from mlspec.targets.sagemaker.lower import INSTANCE_TYPES
from mlspec.targets.vertex.common import MACHINES

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"


def rows() -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    out = {}
    for line in text.splitlines():
        m = re.match(r"\| `((?:cpu|gpu|memory)\.\w+)` \|", line)
        if m and line.count("|") == 10:
            out[m.group(1)] = [c.strip() for c in line.strip("|").split("|")]
    return out


def test_every_class_has_one_row():
    assert set(rows()) == set(COMPUTE_CLASSES)


def test_each_target_chooses_the_documented_machine():
    for cls, cells in rows().items():
        sagemaker, vertex, azure = cells[6], cells[7], cells[8]
        assert sagemaker.startswith(f"`{INSTANCE_TYPES[cls]}`"), (cls, sagemaker)
        assert vertex.startswith(f"`{MACHINES[cls][0]}`"), (cls, vertex)
        assert azure == f"`{CLUSTER_SKU[cls]}`", (cls, azure)


def test_gpu_classes_get_a_gpu_everywhere_and_cpu_classes_none():
    for cls in COMPUTE_CLASSES:
        gpu = cls.startswith("gpu.")
        assert (MACHINES[cls][2] is not None) == gpu, cls
        assert INSTANCE_TYPES[cls].startswith(("ml.g", "ml.p")) == gpu, cls
        assert CLUSTER_SKU[cls].startswith(("Standard_N",)) == gpu, cls


def test_sagemaker_iam_allows_exactly_the_families_of_the_classes():
    """The job roles may start only the instance families the classes use (a class moved to a
    new family must not be denied at run time, nor a family stay allowed that none uses)."""
    from mlspec.targets.sagemaker.iam import ALLOWED_INSTANCE_TYPES

    families = {t.rsplit(".", 1)[0] + ".*" for t in INSTANCE_TYPES.values()}
    assert set(ALLOWED_INSTANCE_TYPES) == families
