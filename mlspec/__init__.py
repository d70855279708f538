"""mlspec: one declarative spec per ML system, compiled for SageMaker, Vertex AI and Azure ML.

The code lives in the repository's compiler/, grammar/ and targets/ folders, installed as
``mlspec.compiler``, ``mlspec.grammar`` and ``mlspec.targets``.
"""
from mlspec.compiler import __version__

__all__ = ["__version__"]
