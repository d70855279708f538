"""`pip install .` (a real wheel) ships every package and data file under the mlspec namespace."""
import subprocess
import sys
import zipfile

from testkit import ROOT


def test_wheel_contents_and_import(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, timeout=300)
    wheel = next(tmp_path.glob("mlspec-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("mlspec/__init__.py", "mlspec/compiler/cli.py", "mlspec/compiler/ir.schema.json",
                     "mlspec/grammar/mlspec.lark", "mlspec/targets/base.py",
                     "mlspec/targets/sagemaker/__init__.py", "mlspec/targets/vertex/__init__.py",
                     "mlspec/targets/azureml/__init__.py", "mlspec/compiler/plan/__init__.py"):
        assert required in names, required
    assert not any(n.startswith(("compiler/", "targets/", "grammar/")) for n in names)
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    code = ("import mlspec, mlspec.compiler.api as a, pathlib; "
            "assert pathlib.Path(a.__file__).is_relative_to(%r); print(mlspec.__version__)" % str(site))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 0, out.stderr
