"""Local Azure ML workspace for `mlspec run --target azureml` (loaded only in step processes).

mlspec's Azure ML step scripts call azure-ai-ml's ``MLClient`` with the compute's managed
identity. In a local run, right after ``azure.ai.ml`` / ``azure.identity`` are imported,
``MLClient`` is replaced by a client whose ``models`` operations keep model versions in a
folder of the run's work dir (MLSPEC_RUN_AZURE_WORKSPACE), and the managed identity by a
credential whose token names a local principal. The entities stay azure-ai-ml's own: a
registered ``Model`` is round-tripped through azure-ai-ml's own schema and converted to the REST
payload, and Azure ML's asset-name rule is applied, as the service's API contract would check it.
"""
import base64
import json
import os
import re
import shutil

import sitecustomize

ROOT = os.environ.get("MLSPEC_RUN_AZURE_WORKSPACE", "")
LOCAL_PRINCIPAL = "00000000-0000-0000-0000-0000000000aa"


class _Token:
    def __init__(self, token, expires_on):
        self.token, self.expires_on = token, expires_on


class LocalCredential:
    def __init__(self, *a, **kw):
        pass

    def get_token(self, *scopes, **kw):
        claims = base64.urlsafe_b64encode(json.dumps({"oid": LOCAL_PRINCIPAL}).encode()).decode().rstrip("=")
        return _Token("e30." + claims + ".local", 4102444800)

    def close(self):
        pass


class LocalModels:
    def __init__(self, root):
        self.root = os.path.join(root, "models")

    def _versions(self, name):
        d = os.path.join(self.root, name)
        if not os.path.isdir(d):
            return []
        return sorted((f for f in os.listdir(d) if f.endswith(".json")), key=lambda f: int(f[:-5]))

    def create_or_update(self, model):
        from azure.ai.ml.entities import Model

        if not isinstance(model, Model):
            raise TypeError("models.create_or_update expects azure.ai.ml.entities.Model")
        if not model.path or not os.path.exists(str(model.path)):
            raise ValueError(f"model path {model.path!r} does not exist")
        existing = self._versions(model.name)
        version = str(model.version) if model.version else str(int(existing[-1][:-5]) + 1 if existing else 1)
        model.version = version
        for k, v in (model.tags or {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"tag {k!r}: Azure ML tags are strings, got {type(v).__name__}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}", model.name or ""):
            raise ValueError(f"model name {model.name!r}: Azure ML asset names are letters, digits, '-', '_' "
                             "and '.', starting with a letter or digit, at most 255 characters")
        Model._load(data=model._to_dict())  # azure-ai-ml's own schema round trip (field types, model type)
        model._to_rest_object().as_dict()  # the REST payload the service would receive
        d = os.path.join(self.root, model.name)
        os.makedirs(d, exist_ok=True)
        dest = os.path.join(d, version)
        if os.path.isdir(str(model.path)):
            shutil.copytree(str(model.path), dest)
        else:
            os.makedirs(dest)
            shutil.copy2(str(model.path), dest)
        doc = {"name": model.name, "version": version, "type": model.type, "description": model.description,
               "tags": dict(model.tags or {}), "path": dest}
        with open(os.path.join(d, version + ".json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
        return self.get(model.name, version)

    def get(self, name, version=None, label=None):
        from azure.ai.ml.entities import Model

        versions = self._versions(name)
        if not versions:
            raise LookupError(f"model {name} not found")
        f = f"{version}.json" if version else versions[-1]
        with open(os.path.join(self.root, name, f), encoding="utf-8") as fh:
            doc = json.load(fh)
        return Model(name=doc["name"], version=doc["version"], type=doc["type"], description=doc["description"],
                     tags=doc["tags"], path=doc["path"])

    def list(self, name=None, **kw):
        names = [name] if name else (sorted(os.listdir(self.root)) if os.path.isdir(self.root) else [])
        return [self.get(n, v[:-5]) for n in names for v in self._versions(n)]


class LocalMLClient:
    def __init__(self, credential=None, subscription_id=None, resource_group_name=None, workspace_name=None, **kw):
        if not ROOT:
            raise RuntimeError("no local workspace (MLSPEC_RUN_AZURE_WORKSPACE unset)")
        self.subscription_id, self.resource_group_name, self.workspace_name = (
            subscription_id, resource_group_name, workspace_name)
        self.models = LocalModels(ROOT)


def _patch_ml(mod):
    mod.MLClient = LocalMLClient


def _patch_identity(mod):
    for name in ("ManagedIdentityCredential", "DefaultAzureCredential", "AzureCliCredential"):
        setattr(mod, name, LocalCredential)


sitecustomize.after_import("azure.ai.ml", _patch_ml)
sitecustomize.after_import("azure.identity", _patch_identity)
