"""Cloud targets for mlspec.

Each target is one sub-package (``sagemaker``, ``vertex``, ``azureml``) exposing a
:class:`mlspec.targets.base.Target` subclass, registered through the ``mlspec.targets``
entry-point group (see pyproject.toml) so a fourth cloud can live out of tree.
"""
