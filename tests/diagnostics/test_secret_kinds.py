"""Literal secrets of every kind SECURITY.md (MLS-E060) lists are refused (E402) in any
field, and the value never appears in the output, text or JSON."""
from __future__ import annotations

import pytest

from mlspec.compiler import cli

SECRETS = {
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
    "aws session key id": "ASIAY34FZKBOKMUTVV7A",
    "private key": "-----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA",
    "openssh private key": "-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAA",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "azure storage connection string": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=bXlrZXlteWtleQ==",
    "service bus connection string": "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKey=c2VjcmV0c2VjcmV0",
    "database password": "Server=db;User Id=ml;Password=hunter2hunter2;",
    "sas token": "https://acme.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2B",
    "url with password": "postgresql://ml:s3cr3tpass@db.example.com/features",
    "slack webhook": "https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "slack token": "xoxb-123456789012-abcdefghijkl",
    "github token": "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
    "google api key": "AIza" + "SyA-bcdefghijklmnopqrstuvwxyz0123456",
    "high-entropy token": "Zx9Qw3Er7Ty1Ui5Op2As8Df4Gh6Jk0LmNbVcXzQ1",
}
#: where the secret is written: (description of the place, spec text with {s})
PLACES = {
    "description": 'system demo {{\n  owner = "ml@example.com"\n  description = "{s}"\n}}\n',
    "label": 'system demo {{\n  owner = "ml@example.com"\n  labels = {{ team = "{s}" }}\n}}\n',
    "list item": ('system demo {{\n  owner = "ml@example.com"\n  security {{ allowed_egress = ["pypi.org", "{s}"] }}\n'
                  "}}\n"),
    "environment override": ('system demo {{\n  owner = "ml@example.com"\n  model m {{ description = "x" }}\n'
                             '  environment dev {{ model m {{ description = "{s}" }} }}\n  environment prod {{ }}\n}}\n'),
}


def _check(tmp_path, monkeypatch, capsys, text: str, *extra: str) -> tuple[int, str]:
    (tmp_path / "s.mlspec").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["check", "s.mlspec", *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_every_kind_is_refused_and_redacted(kind, tmp_path, monkeypatch, capsys):
    secret = SECRETS[kind]
    code, err = _check(tmp_path, monkeypatch, capsys, PLACES["description"].format(s=secret))
    assert code == 1 and "error[E402]" in err, err
    assert secret not in err and "(value redacted)" in err
    code, err = _check(tmp_path, monkeypatch, capsys, PLACES["description"].format(s=secret), "--format", "json")
    assert secret not in err and '"E402"' in err


@pytest.mark.parametrize("place", sorted(PLACES))
def test_every_place_is_screened(place, tmp_path, monkeypatch, capsys):
    secret = SECRETS["aws access key id"]
    code, err = _check(tmp_path, monkeypatch, capsys, PLACES[place].format(s=secret))
    assert code == 1 and "error[E402]" in err, err
    assert secret not in err


@pytest.mark.parametrize("text", ["risk-ml@example.com", "Card-transaction fraud scoring", "data://fraud/labels/",
                                  "sha256:" + "0123456789abcdef" * 4, "00000000-0000-0000-0000-000000000000",
                                  "https://mlflow.example.com/", "Rank items for signed-in shoppers on web and app"])
def test_ordinary_strings_are_not_secrets(text):
    from mlspec.compiler.check.policy import secret_kind

    assert secret_kind(text) is None
