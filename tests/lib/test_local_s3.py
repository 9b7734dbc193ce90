"""The embedded S3 listens on loopback only and answers only to its generated keys."""

import os

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError


def listening_addresses(pid: int) -> set[str]:
    """IPv4/IPv6 addresses the process's TCP sockets listen on (from /proc, no tools needed)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    addresses.add(local.split(":")[0])
    return addresses


def test_listens_on_loopback_only(local_s3):
    addresses = listening_addresses(local_s3.pid)
    assert addresses, "weed listens on nothing?"
    assert addresses == {"0100007F"}  # 127.0.0.1 in /proc's byte order; no 0.0.0.0, no IPv6 wildcard


def test_requests_without_the_keys_are_refused(local_s3):
    anonymous = boto3.client("s3", endpoint_url=local_s3.endpoint_url, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError):
        anonymous.list_objects_v2(Bucket=local_s3.bucket)
    stranger = boto3.client("s3", endpoint_url=local_s3.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="SOMEBODYELSE", aws_secret_access_key="not-ours")
    with pytest.raises(ClientError):
        stranger.put_object(Bucket=local_s3.bucket, Key="intruder", Body=b"x")
    assert local_s3.client().head_bucket(Bucket=local_s3.bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_credentials_file_is_private(local_s3):
    mode = os.stat(local_s3.data_dir / "credentials.json").st_mode & 0o777
    assert mode == 0o600
