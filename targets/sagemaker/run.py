"""`mlspec run --target sagemaker`: execute the SageMaker pipeline definition JSON locally.

Interprets the artifact SageMaker Pipelines would receive (pipelines/<env>/<pipeline>.json)
the way the service does:

- the deploy is replayed first from the stack data Pulumi reads (pulumi/stacks/<env>.json):
  buckets, code and config uploads, seed objects, model package groups; S3 is a directory
  per bucket under the work dir; every AWS API request (CreateModel, CreateModelPackage...)
  goes through botocore (request validation, plus the model's string patterns and lengths,
  which botocore leaves to the service) to moto's server on 127.0.0.1;
- ``Get`` (Parameters, Execution variables, step properties), ``Std:Join`` and
  ``Std:JsonGet`` over property files are resolved as the service resolves them;
- steps run in dependency order (DependsOn plus the property references), Condition steps
  choose IfSteps or ElseSteps, Fail steps fail the run with their ErrorMessage;
- Processing and Training jobs run their container command in a subprocess with the
  container's ``/opt/ml`` remapped under the step's directory; inputs are copied from S3
  prefixes to LocalPath (S3Prefix semantics), outputs uploaded after the job; a training
  job runs the way the framework containers' training toolkit runs a ``sagemaker_program``
  (sorted ``--<hyperparameter> <value>`` arguments, SM_* environment), and /opt/ml/model is
  packed to ``<S3OutputPath>/<job>/output/model.tar.gz`` (consumers get the archive, as on
  SageMaker); tuning runs the declared number of trials in sequence and ranks them by the
  objective the MetricDefinitions regex reads from the job's output.

Not runnable locally (reported ``not_runnable``): QualityCheck (the Model Monitor analyzer
container), built-in algorithms (no ``sagemaker_program``), image-defined processing
containers (no ContainerEntrypoint), and steps that read the output of such a step.
ClarifyCheck DATA_BIAS (pre-training bias) runs with ``smclarify``, the library behind Clarify's
bias metrics (targets/sagemaker/clarify_local.py); MODEL_BIAS and MODEL_EXPLAINABILITY query a
shadow endpoint and are not runnable.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any, Iterator

from mlspec.compiler.run import engine
from mlspec.compiler.run.engine import NotRunnable, StepFailed, StepRecord

OPT_ML = "/opt/ml"
APPROVAL = {"Approved": engine.APPROVED, "PendingManualApproval": engine.PENDING, "Rejected": engine.REJECTED}
_TOKEN = re.compile(r"\$\{([^}]+)\}")
_PATH_TOKEN = re.compile(r"(\w+)|\['([^']*)'\]|\[(\d+)\]")


# ----------------------------------------------------------------------------- moto
# AWS requests go to moto's own server (the vendor's behaviour as moto models it) on
# 127.0.0.1 with a random port; started when a step first needs it, stopped when the run ends.
FAKE_ACCOUNT = "123456789012"


class MotoServer:
    def __init__(self) -> None:
        self._server = None
        self.endpoint = ""

    def start(self) -> "MotoServer":
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # pragma: no cover - moto is a dependency of the run extra
            raise RuntimeError("`mlspec run --target sagemaker` needs moto[server] (pip install 'mlspec[run]')") from exc
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the run's output
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str, region: str):
        import boto3

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=region)
        return session.client(service, endpoint_url=self.endpoint)

    def env(self, region: str) -> dict[str, str]:
        """Environment for a step process that calls AWS: every call goes to this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


@contextlib.contextmanager
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- local S3
class LocalS3:
    """s3://bucket/key -> <root>/<bucket>/<key>; S3Prefix listing as the service does it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def split(uri: str) -> tuple[str, str]:
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise StepFailed(f"`{uri}` is not an S3 URI")
        bucket, _, key = uri[5:].partition("/")
        return bucket, key

    def path(self, uri: str) -> Path:
        bucket, key = self.split(uri)
        return self.root / bucket / key

    def put_file(self, uri: str, src: Path) -> None:
        dest = self.path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    def put_bytes(self, uri: str, data: bytes) -> None:
        dest = self.path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)

    def objects(self, uri: str) -> list[tuple[str, Path]]:
        """(key, file) of every object whose key starts with the prefix."""
        bucket, prefix = self.split(uri)
        base = self.root / bucket
        if not base.is_dir():
            raise StepFailed(f"bucket `{bucket}` does not exist")
        found = []
        start = base / prefix.rsplit("/", 1)[0] if "/" in prefix else base
        if start.is_dir():
            for p in sorted(start.rglob("*")):
                if p.is_file():
                    key = p.relative_to(base).as_posix()
                    if key.startswith(prefix):
                        found.append((key, p))
        return found

    def download_prefix(self, uri: str, dest: Path) -> int:
        """Copy every object under the prefix into dest (relative to the prefix's last '/')."""
        bucket, prefix = self.split(uri)
        cut = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        objs = self.objects(uri)
        dest.mkdir(parents=True, exist_ok=True)
        for key, p in objs:
            if key == prefix:  # the prefix names one object: it keeps its file name
                rel = key.rsplit("/", 1)[-1]
            elif prefix.endswith("/") or key.startswith(prefix + "/"):  # a "folder": its contents
                rel = key[len(prefix.rstrip("/")) + 1:]
            else:  # a partial name: paths below the prefix's folder
                rel = key[len(cut):]
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
        return len(objs)

    def upload_dir(self, src: Path, uri: str) -> None:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                self.put_file(uri.rstrip("/") + "/" + p.relative_to(src).as_posix(), p)


# ----------------------------------------------------------------------------- request patterns
def check_request(client, operation: str, params: dict) -> None:
    """The service-side checks botocore does not do: string patterns, max lengths, enums."""
    import regex  # the service's patterns use \\p{...} classes

    op = client.meta.service_model.operation_model(operation)
    problems: list[str] = []

    def walk(shape, value, where):
        t = shape.type_name
        if t == "structure" and isinstance(value, dict):
            for k, v in value.items():
                if k in shape.members:
                    walk(shape.members[k], v, f"{where}.{k}")
        elif t == "list" and isinstance(value, list):
            for i, v in enumerate(value):
                walk(shape.member, v, f"{where}[{i}]")
        elif t == "map" and isinstance(value, dict):
            for k, v in value.items():
                walk(shape.key, k, f"{where} key {k!r}")
                walk(shape.value, v, f"{where}[{k!r}]")
        elif t == "string" and isinstance(value, str):
            meta = shape.metadata
            if "max" in meta and len(value) > meta["max"]:
                problems.append(f"{where}: {len(value)} characters, more than {meta['max']}")
            if "pattern" in meta and not regex.fullmatch(meta["pattern"], value):
                problems.append(f"{where}: {value!r} does not match the pattern {meta['pattern']}")
            if shape.enum and value not in shape.enum:
                problems.append(f"{where}: {value!r} is not one of {', '.join(shape.enum)}")

    walk(op.input_shape, params, operation)
    if problems:
        raise StepFailed(f"{operation} would be rejected: " + "; ".join(problems[:5]))


# ----------------------------------------------------------------------------- the executor
class SageMakerRun:
    def __init__(self, ctx: engine.RunContext) -> None:
        self.ctx = ctx
        self.stack = self._read_json(f"pulumi/stacks/{ctx.environment}.json")
        pipe = next((p for p in self.stack["pipelines"] if p["key"] == ctx.pipeline), None)
        if pipe is None:
            raise engine.RunError(f"no SageMaker pipeline `{ctx.pipeline}` in this build")
        self.pipeline_name = pipe["name"]
        self.definition = self._read_json(os.path.normpath(os.path.join("pulumi", pipe["definition"])))
        self.region = self.stack["region"]
        self.s3 = LocalS3(ctx.workdir / "s3")
        self.execution_id = "local0000001"
        self.tokens = self._tokens()
        self.params = {p["Name"]: self._detokenise(p.get("DefaultValue")) for p in self.definition["Parameters"]}
        self.props: dict[str, dict] = {}  # step name -> its properties (as Describe* returns them)
        self.property_files: dict[str, dict[str, Any]] = {}  # step -> file name -> (output, path)
        self.status: dict[str, str] = {}
        self.branch_notes: dict[str, str] = {}
        self.report = engine.RunReport("sagemaker", ctx.environment, ctx.pipeline)
        self.moto: MotoServer | None = None
        self.unwritten: dict[str, str] = {}  # S3 prefix -> the not_runnable step that writes it

    def _read_json(self, rel: str) -> Any:
        path = self.ctx.build_dir / rel
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise engine.RunError(f"cannot read the SageMaker artifact `{rel}`: {exc.strerror}") from None

    # ------------------------------------------------------------------ deploy replay
    def _tokens(self) -> dict[str, str]:
        t = {"account": FAKE_ACCOUNT, "partition": "aws", "region": self.region,
             "kms_key_arn": f"arn:aws:kms:{self.region}:{FAKE_ACCOUNT}:key/00000000-0000-0000-0000-000000000000"}
        for b in self.stack["buckets"]:
            name = f"{b['name_prefix']}-{FAKE_ACCOUNT}-{self.region}"
            t[f"bucket:{b['key']}"] = name
            t[f"bucket_arn:{b['key']}"] = f"arn:aws:s3:::{name}"
        for r in self.stack.get("roles") or []:
            t[f"role:{r['key']}"] = f"arn:aws:iam::{FAKE_ACCOUNT}:role/{self.stack['system'].replace('_', '-')}-{r['key']}"
        for i in range(8):
            t[f"subnet:{i}"] = f"subnet-0000000000000000{i}"
            t[f"security_group:{i}"] = f"sg-0000000000000000{i}"
        return t

    def _detokenise(self, value: Any) -> Any:
        if isinstance(value, str):
            def sub(m):
                if m.group(1) not in self.tokens:
                    raise engine.RunError(f"the artifact uses the unknown deploy-time value ${{{m.group(1)}}}")
                return self.tokens[m.group(1)]
            return _TOKEN.sub(sub, value)
        return value

    def deploy(self) -> None:
        for b in self.stack["buckets"]:
            (self.s3.root / self.tokens[f"bucket:{b['key']}"]).mkdir(parents=True, exist_ok=True)
        art = self.tokens["bucket:artifacts"]
        pulumi_dir = self.ctx.build_dir / "pulumi"
        for obj in self.stack["code"] + self.stack["files"]:
            self.s3.put_file(f"s3://{art}/{obj['key']}", (pulumi_dir / obj["source"]).resolve())
        for obj in self.stack["seeds"]:
            self.s3.put_bytes(f"s3://{art}/{obj['key']}", obj["content"].encode())
        data_bucket = self.tokens.get("bucket:data")
        for ds in self.ctx.ir.get("datasets") or []:
            src = self.ctx.data.get(ds["name"])
            if src is None:
                continue
            uri = ds["uri"]
            if uri.startswith("data://"):
                uri = f"s3://{data_bucket}/{uri[len('data://'):]}"
            if not uri.startswith("s3://"):
                raise engine.RunError(f"dataset `{ds['name']}` lives at `{ds['uri']}`, which a SageMaker run cannot place")
            engine.copy_data(src, self.s3.path(uri.rstrip("/") + "/"))
        sm = self.client()
        for g in self.stack["model_package_groups"]:
            self.aws(sm, "create_model_package_group", ModelPackageGroupName=g["name"],
                     ModelPackageGroupDescription=g["description"])

    def client(self):
        if self.moto is None:
            self.moto = MotoServer().start()
            self._sm = self.moto.client("sagemaker", self.region)
        return self._sm

    def aws(self, client, method: str, **params) -> dict:
        import botocore.exceptions

        op = client.meta.method_to_api_mapping[method]
        check_request(client, op, params)
        try:
            return getattr(client, method)(**params)
        except botocore.exceptions.ParamValidationError as exc:
            raise StepFailed(f"{op} rejected by botocore: {exc}") from None
        except botocore.exceptions.ClientError as exc:
            raise StepFailed(f"{op} failed: {exc}") from None

    # ------------------------------------------------------------------ expressions
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Get"}:
                return self.get(value["Get"])
            if set(value) == {"Std:Join"}:
                j = value["Std:Join"]
                return j["On"].join(_text(self.resolve(v)) for v in j["Values"])
            if set(value) == {"Std:JsonGet"}:
                return self.json_get(value["Std:JsonGet"])
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def get(self, path: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "Parameters":
            if rest not in self.params:
                raise StepFailed(f"`{path}`: the pipeline declares no parameter `{rest}`")
            return self.params[rest]
        if head == "Execution":
            ev = {"PipelineExecutionId": self.execution_id,
                  "PipelineExecutionArn": f"arn:aws:sagemaker:{self.region}:{FAKE_ACCOUNT}:pipeline/"
                                          f"{self.pipeline_name}/execution/{self.execution_id}",
                  "PipelineName": self.pipeline_name, "StartDateTime": "2026-01-01T00:00:00Z",
                  "CurrentDateTime": "2026-01-01T00:00:00Z"}
            if rest not in ev:
                raise StepFailed(f"`{path}` is not a SageMaker execution variable")
            return ev[rest]
        if head == "Steps":
            step, _, prop = rest.partition(".")
            if step not in self.props:
                raise StepFailed(f"`{path}` reads step `{step}`, which has not run")
            node: Any = self.props[step]
            for m in _PATH_TOKEN.finditer(prop):
                name, key, idx = m.groups()
                try:
                    if name is not None:
                        node = node[name]
                    elif key is not None:
                        node = next(o for o in node if _list_key(o) == key)
                    else:
                        node = node[int(idx)]
                except (KeyError, IndexError, StopIteration, TypeError):
                    raise StepFailed(f"`{path}`: step `{step}` has no property `{prop}`") from None
            return node
        raise StepFailed(f"`{path}` is not a SageMaker pipeline property")

    def json_get(self, spec: dict) -> Any:
        ref = spec["PropertyFile"]
        m = re.fullmatch(r"Steps\.(\w+)\.PropertyFiles\.(\w+)", ref.get("Get", "")) if isinstance(ref, dict) else None
        if not m:
            raise StepFailed(f"Std:JsonGet names its property file as {ref!r}, not Steps.<step>.PropertyFiles.<name>")
        step, name = m.groups()
        files = self.property_files.get(step, {})
        if name not in files:
            raise StepFailed(f"Std:JsonGet: step `{step}` declares no property file `{name}`")
        output, file_path = files[name]
        outs = self.props[step].get("ProcessingOutputConfig", {}).get("Outputs", [])
        out = next((o for o in outs if o["OutputName"] == output), None)
        if out is None:
            raise StepFailed(f"property file `{name}` reads output `{output}`, which step `{step}` does not have")
        uri = out["S3Output"]["S3Uri"].rstrip("/") + "/" + file_path
        try:
            doc = json.loads(self.s3.path(uri).read_text(encoding="utf-8"))
        except OSError:
            raise StepFailed(f"Std:JsonGet: `{uri}` (property file `{name}` of step `{step}`) does not exist") from None
        except ValueError:
            raise StepFailed(f"Std:JsonGet: `{uri}` is not JSON") from None
        node: Any = doc
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", spec["Path"]):
            try:
                node = node[int(part[1:-1])] if part.startswith("[") else node[part]
            except (KeyError, IndexError, TypeError):
                raise StepFailed(f"Std:JsonGet: `{spec['Path']}` is not in `{uri}`") from None
        return node

    # ------------------------------------------------------------------ graph
    def flatten(self) -> tuple[list[dict], dict[str, set[str]], dict[str, tuple[str, bool]]]:
        steps: list[dict] = []
        branch: dict[str, tuple[str, bool]] = {}

        def add(items, parent=None, side=None):
            for s in items:
                steps.append(s)
                if parent:
                    branch[s["Name"]] = (parent, side)
                if s["Type"] == "Condition":
                    add(s["Arguments"].get("IfSteps") or [], s["Name"], True)
                    add(s["Arguments"].get("ElseSteps") or [], s["Name"], False)
        add(self.definition["Steps"])
        names = {s["Name"] for s in steps}
        deps: dict[str, set[str]] = {}
        for s in steps:
            d = set(s.get("DependsOn") or [])
            d |= _data_refs({k: v for k, v in s.items() if k not in ("Name",)} if s["Type"] != "Condition"
                            else s["Arguments"].get("Conditions"))
            if s["Name"] in branch:
                d.add(branch[s["Name"]][0])
            unknown = d - names
            if unknown:
                raise engine.RunError(f"step `{s['Name']}` depends on unknown step(s) {', '.join(sorted(unknown))}")
            deps[s["Name"]] = d
        return steps, deps, branch

    # ------------------------------------------------------------------ run
    def run(self) -> engine.RunReport:
        try:
            self.deploy()
            steps, deps, branch = self.flatten()
            by_name = {s["Name"]: s for s in steps}
            # a step reading a property file of a step that cannot run cannot run either;
            # plain property references (URIs, names) resolve as they would in the service
            data_deps = {s["Name"]: _json_get_refs(s["Arguments"].get("Conditions") if s["Type"] == "Condition"
                                                   else s.get("Arguments")) for s in steps}
            order = engine.dag_order([s["Name"] for s in steps], deps,
                                     late=[s["Name"] for s in steps if s["Type"] in ("Condition", "Fail")])
            stopped = ""
            for name in order:
                s = by_name[name]
                rec = self._decide(name, deps, data_deps, branch, stopped)
                if rec is None:
                    rec = self._run_step(s)
                self.status[name] = rec.status
                self.report.steps.append(rec)
                self.ctx.progress(engine.render_text_line(rec))
                if rec.status == engine.FAILED and not stopped:
                    stopped = name
        finally:
            if self.moto is not None:
                self.moto.stop()
        return self.report

    def _decide(self, name, deps, data_deps, branch, stopped) -> StepRecord | None:
        if stopped:
            return StepRecord(name, engine.SKIPPED, reason=f"not started: step {stopped} failed")
        if name in branch:
            cond, side = branch[name]
            if self.status.get(cond) != engine.SUCCEEDED:
                return StepRecord(name, engine.SKIPPED, reason=f"condition {cond} did not run")
            if self.branch_notes.get(cond) != side:
                return StepRecord(name, engine.SKIPPED,
                                  reason=f"condition {cond} was {str(not side).lower()}")
        for d in sorted(deps[name]):
            st = self.status.get(d)
            if st == engine.SKIPPED:
                return StepRecord(name, engine.SKIPPED, reason=f"depends on skipped step {d}")
            if st == engine.NOT_RUNNABLE and d in data_deps[name]:
                return StepRecord(name, engine.NOT_RUNNABLE, reason=f"reads the output of {d}, which cannot run locally")
        return None

    def _run_step(self, s: dict) -> StepRecord:
        clock = engine.Clock()
        kind = s["Type"]
        handler = getattr(self, f"step_{kind.lower()}", None)
        try:
            if handler is None:
                raise NotRunnable(f"{kind} steps run only in the SageMaker service")
            reason = handler(s) or ""
            return StepRecord(s["Name"], engine.SUCCEEDED, clock.seconds, reason)
        except NotRunnable as exc:
            self._unwritten_outputs(s)
            return StepRecord(s["Name"], engine.NOT_RUNNABLE, clock.seconds, str(exc))
        except StepFailed as exc:
            return StepRecord(s["Name"], engine.FAILED, clock.seconds, str(exc))

    def _unwritten_outputs(self, s: dict) -> None:
        """Remember where a step that cannot run would have written (its readers cannot run);
        its properties (output URIs, names) resolve as the service would report them."""
        try:
            args = self.resolve(s.get("Arguments") or {})
        except StepFailed:
            return
        self.props.setdefault(s["Name"], copy.deepcopy(args))
        for out in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            uri = (out.get("S3Output") or {}).get("S3Uri")
            if isinstance(uri, str):
                self.unwritten[uri.rstrip("/")] = s["Name"]

    def _check_written(self, uri: str, what: str) -> None:
        for prefix, step in self.unwritten.items():
            if uri.rstrip("/") == prefix or uri.startswith(prefix + "/"):
                raise NotRunnable(f"{what} reads {uri}, written by {step}, which cannot run locally")

    # ------------------------------------------------------------------ step kinds
    def _container(self, name: str) -> tuple[Path, dict[str, Path]]:
        root = self.ctx.step_dir(name) / "container"
        if root.exists():
            shutil.rmtree(root)
        (root / "opt/ml").mkdir(parents=True)
        return root, {OPT_ML: root / "opt/ml"}

    @staticmethod
    def _local(path: str, remap: dict[str, Path]) -> Path:
        mapped = engine._remap_text(path, remap)
        if mapped == path:
            raise NotRunnable(f"`{path}` is outside /opt/ml; only the container has it")
        return Path(mapped)

    def step_processing(self, s: dict) -> str:
        args = self.resolve(s["Arguments"])
        name = s["Name"]
        app = args["AppSpecification"]
        if not app.get("ContainerEntrypoint"):
            raise NotRunnable(f"image {app['ImageUri'].rsplit('/', 1)[-1]} runs its own entry point (no ContainerEntrypoint)")
        root, remap = self._container(name)
        self._stage_inputs(args, remap)
        outputs = (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        for out in outputs:
            self._local(out["S3Output"]["LocalPath"], remap).mkdir(parents=True, exist_ok=True)
        env = {k: str(v) for k, v in (args.get("Environment") or {}).items()}
        argv = list(app["ContainerEntrypoint"]) + list(app.get("ContainerArguments") or [])
        timeout = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        self.ctx.exec_script(name, argv, env=env, remap=remap, cwd=root, timeout=timeout)
        for out in outputs:
            self.s3.upload_dir(self._local(out["S3Output"]["LocalPath"], remap), out["S3Output"]["S3Uri"])
        props = copy.deepcopy(args)
        props["ProcessingJobName"] = f"pipelines-{self.execution_id}-{name}"
        props["ProcessingJobStatus"] = "Completed"
        self.props[name] = props
        self.property_files[name] = {p["PropertyFileName"]: (p["OutputName"], p["FilePath"])
                                     for p in s.get("PropertyFiles") or []}
        self._collect_metrics(s, props)
        return ""

    def _stage_inputs(self, args: dict, remap: dict[str, Path]) -> dict[str, Path]:
        """Copy every processing input from S3 to its LocalPath; returns name -> local dir."""
        staged = {}
        for inp in args.get("ProcessingInputs") or []:
            if "S3Input" not in inp:
                raise NotRunnable(f"input {inp.get('InputName')} is not an S3 input")
            si = inp["S3Input"]
            self._check_written(si["S3Uri"], f"input {inp['InputName']}")
            dest = self._local(si["LocalPath"], remap)
            if si.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise NotRunnable(f"input {inp['InputName']}: S3DataType {si['S3DataType']}")
            if self.s3.download_prefix(si["S3Uri"], dest) == 0:
                raise StepFailed(f"input `{inp['InputName']}`: no objects under {si['S3Uri']} "
                                 "(SageMaker fails a processing job whose S3 input is empty)")
            staged[inp["InputName"]] = dest
        return staged

    def _collect_metrics(self, s: dict, props: dict) -> None:
        outs = {o["OutputName"]: o for o in (props.get("ProcessingOutputConfig") or {}).get("Outputs") or []}
        for pf in s.get("PropertyFiles") or []:
            if os.path.basename(pf["FilePath"]) != "evaluation.json" or pf["OutputName"] not in outs:
                continue
            uri = outs[pf["OutputName"]]["S3Output"]["S3Uri"].rstrip("/") + "/" + pf["FilePath"]
            ms = engine.read_metrics(self.s3.path(uri))
            if ms is not None:
                step = (props.get("Environment") or {}).get("MLSPEC_STEP") or s["Name"]
                self.report.metrics[step] = ms

    def _training_job(self, name: str, job_name: str, args: dict, hyper: dict[str, str]) -> tuple[str, str]:
        """Run one training job; returns (S3 model artifact URI, job output)."""
        algo = args["AlgorithmSpecification"]
        if "sagemaker_program" not in hyper:
            raise NotRunnable(f"built-in algorithm image {algo.get('TrainingImage', '?').rsplit('/', 1)[-1]} "
                              "(no sagemaker_program to run)")
        root, remap = self._container(job_name)
        ml = root / "opt/ml"
        channels = []
        for ch in args.get("InputDataConfig") or []:
            src = ch["DataSource"].get("S3DataSource")
            if src is None:
                raise NotRunnable(f"channel {ch['ChannelName']} is not an S3 data source")
            self._check_written(src["S3Uri"], f"channel {ch['ChannelName']}")
            if self.s3.download_prefix(src["S3Uri"], ml / "input/data" / ch["ChannelName"]) == 0:
                raise StepFailed(f"channel `{ch['ChannelName']}`: no objects under {src['S3Uri']}")
            channels.append(ch["ChannelName"])
        (ml / "input/config").mkdir(parents=True, exist_ok=True)
        (ml / "input/config/hyperparameters.json").write_text(json.dumps(hyper), encoding="utf-8")
        (ml / "model").mkdir(parents=True, exist_ok=True)
        (ml / "output/data").mkdir(parents=True, exist_ok=True)
        # what the framework containers' training toolkit does with a sagemaker_program
        decoded = {k: _json_or_text(v) for k, v in hyper.items()}
        program = str(decoded["sagemaker_program"])
        submit = str(decoded.get("sagemaker_submit_directory") or "/opt/ml/code")
        if submit.startswith("s3://"):
            code_dir = ml / "code"
            raw = self.s3.path(submit).read_bytes()
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                tar.extractall(code_dir, filter="data")
        else:
            code_dir = self._local(submit, remap)
        if not (code_dir / program).is_file():
            raise StepFailed(f"sagemaker_program `{program}` is not in the submit directory {submit}")
        user = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
        argv = ["python3", str(code_dir / program)]
        for k in sorted(user):
            argv += [f"--{k}", _cmd_text(user[k])]
        env = {"SM_MODEL_DIR": "/opt/ml/model", "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
               "SM_CHANNELS": json.dumps(sorted(channels)), "SM_HPS": json.dumps(user),
               "SM_USER_ARGS": json.dumps(argv[2:]), "SM_CURRENT_HOST": "algo-1", "SM_HOSTS": '["algo-1"]',
               "SM_NUM_GPUS": "0", "SM_MODULE_DIR": str(submit), "SM_INPUT_DIR": "/opt/ml/input",
               "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config", "PYTHONPATH": str(code_dir)}
        for c in channels:
            env[f"SM_CHANNEL_{c.upper()}"] = f"/opt/ml/input/data/{c}"
        for k, v in user.items():
            env[f"SM_HP_{k.upper()}"] = _cmd_text(v)
        env.update({k: str(v) for k, v in (args.get("Environment") or {}).items()})
        env["TRAINING_JOB_NAME"] = job_name
        timeout = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        # managed spot training's checkpoints: SageMaker restores CheckpointConfig.S3Uri into
        # LocalPath when a job (re)starts and syncs LocalPath back to S3 while it runs, so what a
        # job wrote survives a retry of the step in the same execution; emulated with the local S3
        ckpt = args.get("CheckpointConfig") or {}
        ckpt_local = self._local(ckpt.get("LocalPath") or "/opt/ml/checkpoints", remap) if ckpt else None
        if ckpt:
            ckpt_local.mkdir(parents=True, exist_ok=True)
            self.s3.download_prefix(ckpt["S3Uri"], ckpt_local)
        try:
            output = self.ctx.exec_script(name, argv, env=env, remap=remap, cwd=code_dir, timeout=timeout)
        finally:
            if ckpt:
                self.s3.upload_dir(ckpt_local, ckpt["S3Uri"])
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for p in sorted((ml / "model").rglob("*")):
                tar.add(p, arcname=p.relative_to(ml / "model").as_posix(), recursive=False)
        uri = args["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job_name}/output/model.tar.gz"
        self.s3.put_bytes(uri, buf.getvalue())
        return uri, output

    def step_training(self, s: dict) -> str:
        args = self.resolve(s["Arguments"])
        job = f"pipelines-{self.execution_id}-{s['Name']}"
        uri, _ = self._training_job(s["Name"], job, args, dict(args.get("HyperParameters") or {}))
        props = copy.deepcopy(args)
        props.update({"TrainingJobName": job, "TrainingJobStatus": "Completed",
                      "ModelArtifacts": {"S3ModelArtifacts": uri}})
        self.props[s["Name"]] = props
        return ""

    def step_tuning(self, s: dict) -> str:
        args = self.resolve(s["Arguments"])
        cfg = args["HyperParameterTuningJobConfig"]
        job_def = args["TrainingJobDefinition"]
        objective = cfg["HyperParameterTuningJobObjective"]
        metric_defs = {m["Name"]: m["Regex"] for m in job_def["AlgorithmSpecification"].get("MetricDefinitions") or []}
        if objective["MetricName"] not in metric_defs:
            raise StepFailed(f"the objective metric `{objective['MetricName']}` has no MetricDefinition; "
                             "SageMaker rejects the tuning job")
        n = int(cfg["ResourceLimits"]["MaxNumberOfTrainingJobs"])
        rng = random.Random(0)
        ranges = cfg.get("ParameterRanges") or {}
        summaries = []
        for i in range(n):
            hyper = dict(job_def.get("StaticHyperParameters") or {})
            hyper.update(_sample(ranges, rng))
            job = f"{s['Name'][:20].lower()}-{i + 1:03d}"
            _, output = self._training_job(s["Name"], job, job_def, hyper)
            found = re.findall(metric_defs[objective["MetricName"]], output)
            if not found:
                raise StepFailed(f"trial {job}: the objective `{objective['MetricName']}` was not found in the "
                                 f"job's output with the regex {metric_defs[objective['MetricName']]!r}")
            value = float(found[-1] if isinstance(found[-1], str) else found[-1][0])
            summaries.append({"TrainingJobName": job, "TrainingJobStatus": "Completed",
                              "TunedHyperParameters": {k: v for k, v in hyper.items() if not k.startswith("sagemaker_")},
                              "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": objective["MetricName"],
                                                                              "Value": value}})
        sign = -1 if objective["Type"] == "Maximize" else 1
        summaries.sort(key=lambda j: sign * j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        props = copy.deepcopy(args)
        props.update({"HyperParameterTuningJobName": f"pipelines-{self.execution_id}-{s['Name']}",
                      "BestTrainingJob": summaries[0], "TrainingJobSummaries": summaries})
        self.props[s["Name"]] = props
        best = summaries[0]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        return f"{n} trials; best {objective['MetricName']}={best:g}"

    def step_model(self, s: dict) -> str:
        args = self.resolve(s["Arguments"])
        name = f"pipelines-{self.execution_id}-{s['Name']}"
        args = {k: v for k, v in args.items()}
        self.aws(self.client(), "create_model", ModelName=name, **args)
        self.props[s["Name"]] = {**args, "ModelName": name}
        return ""

    def step_registermodel(self, s: dict) -> str:
        args = self.resolve(s["Arguments"])
        sm = self.client()
        res = self.aws(sm, "create_model_package", **args)
        arn = res["ModelPackageArn"]
        desc = sm.describe_model_package(ModelPackageName=arn)
        state = desc.get("ModelApprovalStatus", "PendingManualApproval")
        self.props[s["Name"]] = {**args, "ModelPackageArn": arn}
        version = str(desc.get("ModelPackageVersion") or arn.rsplit("/", 1)[-1])
        self.report.registered.append(engine.Registered(args["ModelPackageGroupName"], version,
                                                        APPROVAL.get(state, state)))
        return f"{args['ModelPackageGroupName']} version {version}: {state}"

    def step_condition(self, s: dict) -> str:
        results = []
        ok = True
        for c in s["Arguments"]["Conditions"]:
            value, text = self._condition(c)
            results.append(text)
            ok = ok and value
        self.branch_notes[s["Name"]] = ok
        self.props[s["Name"]] = {"Outcome": "True" if ok else "False"}
        note = "; ".join(results)
        self._last_condition = (s["Name"], note)
        return f"{str(ok).lower()}: {note}"

    def _condition(self, c: dict) -> tuple[bool, str]:
        t = c["Type"]
        if t == "Not":
            v, text = self._condition(c["Condition"])
            return (not v), f"not ({text})"
        if t == "Or":
            parts = [self._condition(x) for x in c["Conditions"]]
            return any(v for v, _ in parts), " or ".join(f"({tx})" for _, tx in parts)
        if t == "In":
            q = self.resolve(c["QueryValue"])
            vals = [self.resolve(v) for v in c["Values"]]
            return q in vals, f"{q!r} in {vals!r}"
        ops = {"Equals": ("==", lambda a, b: a == b), "GreaterThan": (">", lambda a, b: a > b),
               "GreaterThanOrEqualTo": (">=", lambda a, b: a >= b), "LessThan": ("<", lambda a, b: a < b),
               "LessThanOrEqualTo": ("<=", lambda a, b: a <= b)}
        if t not in ops:
            raise StepFailed(f"unknown condition type {t}")
        left, right = self.resolve(c["LeftValue"]), self.resolve(c["RightValue"])
        sym, fn = ops[t]
        try:
            value = bool(fn(left, right))
        except TypeError:
            raise StepFailed(f"cannot compare {left!r} {sym} {right!r}") from None
        return value, f"{_num(left)} {sym} {_num(right)} is {str(value).lower()}"

    def step_fail(self, s: dict) -> str:
        msg = self.resolve(s["Arguments"].get("ErrorMessage", ""))
        cond = getattr(self, "_last_condition", None)
        raise StepFailed(str(msg) + (f" ({cond[1]})" if cond else ""))

    def step_qualitycheck(self, s: dict) -> str:
        raise NotRunnable("QualityCheck runs the Model Monitor analyzer container, which only SageMaker has")

    def step_clarifycheck(self, s: dict) -> str:
        """A DATA_BIAS check: the Clarify job's pre-training bias analysis with smclarify (the
        library behind Clarify's bias metrics), fed with the job's own analysis_config input.
        MODEL_BIAS and MODEL_EXPLAINABILITY query a shadow endpoint: not runnable here."""
        from mlspec.targets.sagemaker import clarify_local

        check = s.get("CheckType")
        if check not in ("DATA_BIAS", "MODEL_BIAS", "MODEL_EXPLAINABILITY"):
            raise StepFailed(f"CheckType {check!r} is not one of DATA_BIAS, MODEL_BIAS, MODEL_EXPLAINABILITY")
        args = self.resolve(s["Arguments"])
        app = args["AppSpecification"]
        if app.get("ContainerEntrypoint") or app.get("ContainerArguments"):
            raise StepFailed("a Clarify job takes no ContainerEntrypoint or ContainerArguments (SageMaker rejects them)")
        if "/sagemaker-clarify-processing:" not in app.get("ImageUri", ""):
            raise StepFailed(f"ClarifyCheck runs the SageMaker Clarify image, not {app.get('ImageUri')}")
        if check != "DATA_BIAS":
            raise NotRunnable(f"ClarifyCheck {check}: Clarify queries a shadow endpoint of the model, "
                              "which only SageMaker runs")
        try:
            import smclarify  # noqa: F401
        except ImportError:
            raise NotRunnable("ClarifyCheck DATA_BIAS needs smclarify (pip install 'mlspec[run]')") from None
        names = [i.get("InputName") for i in args.get("ProcessingInputs") or []]
        if sorted(names) != ["analysis_config", "dataset"]:
            raise StepFailed(f"a Clarify job reads the inputs `analysis_config` and `dataset`, not {names}")
        outputs = (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        if len(outputs) != 1 or outputs[0]["S3Output"]["LocalPath"] != "/opt/ml/processing/output":
            raise StepFailed("a Clarify job writes one output from /opt/ml/processing/output")
        root, remap = self._container(s["Name"])
        staged = self._stage_inputs(args, remap)
        out_dir = self._local(outputs[0]["S3Output"]["LocalPath"], remap)
        try:
            cfg = clarify_local.read_config(staged["analysis_config"])
            doc = clarify_local.analyze(cfg, staged["dataset"], out_dir)
        except clarify_local.ConfigError as exc:
            raise StepFailed(f"the Clarify job would fail: {exc}") from None
        except clarify_local.Unsupported as exc:
            raise NotRunnable(f"ClarifyCheck: {exc}") from None
        self.s3.upload_dir(out_dir, outputs[0]["S3Output"]["S3Uri"])
        report = (args["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/") + "/analysis.json")
        props = copy.deepcopy(args)
        props.update({"ProcessingJobName": f"pipelines-{self.execution_id}-{s['Name']}",
                      "ProcessingJobStatus": "Completed", "CalculatedBaselineConstraints": report})
        # the drift check against an earlier baseline: none is registered in a fresh run
        if not s.get("SkipCheck") and s.get("SuppliedBaselineConstraints"):
            raise NotRunnable("ClarifyCheck: the drift check against SuppliedBaselineConstraints is not reproduced locally")
        self.props[s["Name"]] = props
        methods = (cfg["methods"].get("pre_training_bias") or {}).get("methods") or []
        parts = []
        for m in ([methods] if isinstance(methods, str) else methods):
            value, n = clarify_local.max_abs(doc, m)
            if n:
                parts.append(f"{m} max |value| {value:.4g} over {n} facet values")
        return "; ".join(parts)


def _list_key(o: Any) -> str | None:
    if isinstance(o, dict):
        for k in ("OutputName", "InputName", "ChannelName", "Name"):
            if k in o:
                return o[k]
    return None


def _data_refs(value: Any) -> set[str]:
    """Steps whose properties or property files an expression reads."""
    found: set[str] = set()

    def walk(v):
        if isinstance(v, dict):
            g = v.get("Get")
            if isinstance(g, str) and g.startswith("Steps."):
                found.add(g.split(".")[1].split("[")[0])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(value)
    return found


def _json_get_refs(value: Any) -> set[str]:
    """Steps whose property files an expression reads with Std:JsonGet."""
    found: set[str] = set()

    def walk(v):
        if isinstance(v, dict):
            if "Std:JsonGet" in v:
                found.update(_data_refs(v["Std:JsonGet"]))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(value)
    return found


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def _json_or_text(v: str) -> Any:
    try:
        return json.loads(v)
    except (TypeError, ValueError):
        return v


def _cmd_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _sample(ranges: dict, rng: random.Random) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in ranges.get("ContinuousParameterRanges") or []:
        lo, hi = float(r["MinValue"]), float(r["MaxValue"])
        out[r["Name"]] = repr(round(rng.uniform(lo, hi), 6))
    for r in ranges.get("IntegerParameterRanges") or []:
        out[r["Name"]] = str(rng.randint(int(r["MinValue"]), int(r["MaxValue"])))
    for r in ranges.get("CategoricalParameterRanges") or []:
        out[r["Name"]] = rng.choice(list(r["Values"]))
    return out


def run(ctx: engine.RunContext) -> engine.RunReport:
    return SageMakerRun(ctx).run()
