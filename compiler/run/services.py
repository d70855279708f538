"""Local stand-ins for cloud services that `mlspec run` starts and stops.

AWS: moto's own server (the vendor's behaviour as moto models it) on 127.0.0.1 with a
random port; requests are built and validated by botocore. Started only when a step needs
it and always stopped when the run ends.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

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
