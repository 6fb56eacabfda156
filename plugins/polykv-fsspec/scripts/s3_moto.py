"""A second S3 API server for benchmarks: ``moto_server`` (``pip install 'moto[server]'``) with signature checks.

moto checks SigV4 signatures only for IAM users it knows, and only after ``INITIAL_NO_AUTH_ACTION_COUNT``
unauthenticated calls: the first three create a user, its S3 policy and its access key; from then on a request
signed with any other secret is refused (``MotoS3Server.start`` verifies that before returning).

From Python: ``with MotoS3Server.start(workdir) as server: server.endpoint_url``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processes import free_port, spawn, stop, wait_ready

__all__ = ["MotoS3Server", "moto_binary"]

#: Unauthenticated calls moto allows before it checks signatures: exactly the three setup calls below.
SETUP_CALLS = 3
S3_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def moto_binary() -> str:
    """The ``moto_server`` executable next to this interpreter or on PATH."""
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is missing: pip install 'moto[server]'")
    return found


def _client(service: str, endpoint_url: str, key: str, secret: str) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client(
        service, endpoint_url=endpoint_url, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1"
    )


@dataclass
class MotoS3Server:
    """A running ``moto_server`` with one IAM user allowed ``s3:*``; ``stop()`` ends it by pid."""

    workdir: Path
    port: int
    access_key: str = ""
    secret_key: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def endpoint_url(self) -> str:
        """The S3 API endpoint."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workdir: Path, timeout: float = 60.0) -> MotoS3Server:
        """Start moto on a free port, create the user and its key, and check that a wrong secret is refused."""
        workdir.mkdir(parents=True, exist_ok=True)
        server = cls(workdir=workdir, port=free_port())
        server.process = spawn(
            [moto_binary(), "-H", "127.0.0.1", "-p", str(server.port)],
            workdir / "moto.log",
            cwd=workdir,
            env={"INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_CALLS)},
        )
        try:
            wait_ready(server._answers, {"moto_server": server.process}, timeout, "moto S3 server", workdir)
            server._create_user()
            server._check_signatures()
        except BaseException:
            server.stop()
            raise
        return server

    def _answers(self) -> bool:
        try:  # the moto-api dashboard is not an AWS action: it does not use up a setup call
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):  # noqa: S310 - loopback
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def _create_user(self) -> None:
        iam = _client("iam", self.endpoint_url, "setup", "setup")
        iam.create_user(UserName="polykv")
        iam.put_user_policy(UserName="polykv", PolicyName="s3", PolicyDocument=json.dumps(S3_POLICY))
        created = iam.create_access_key(UserName="polykv")["AccessKey"]
        self.access_key, self.secret_key = created["AccessKeyId"], created["SecretAccessKey"]

    def _check_signatures(self) -> None:
        from botocore.exceptions import ClientError

        try:
            _client("s3", self.endpoint_url, self.access_key, "wrong-" + self.secret_key).list_buckets()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "SignatureDoesNotMatch":
                return
            raise
        raise RuntimeError("moto_server accepted a wrong secret: signatures are not being checked")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server by pid: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process is not None:
            stop([self.process], timeout)

    def __enter__(self) -> MotoS3Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
