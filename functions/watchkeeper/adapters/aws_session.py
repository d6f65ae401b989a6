"""The AWS session the functions use: boto3's Session interface over botocore's own.

Every client the functions make is a botocore client either way (boto3's only adds resources
and S3 transfer methods, which nothing here uses). Importing boto3 and s3transfer costs each
cold start about 20 ms for nothing; this costs nothing beyond botocore.
"""
from __future__ import annotations

from typing import Any


class Session:
    """What the functions use of ``boto3.session.Session``: ``client``, ``region_name``,
    ``get_credentials`` and ``_session`` (the botocore session)."""

    def __init__(self, *, aws_access_key_id: str | None = None, aws_secret_access_key: str | None = None,
                 aws_session_token: str | None = None, region_name: str | None = None) -> None:
        import botocore.session

        self._session = botocore.session.get_session()
        if aws_access_key_id or aws_secret_access_key or aws_session_token:
            self._session.set_credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)
        if region_name:
            self._session.set_config_variable("region", region_name)

    @property
    def region_name(self) -> str | None:
        return self._session.get_config_variable("region")

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self._session.create_client(service_name, **kwargs)

    def get_credentials(self) -> Any:
        return self._session.get_credentials()


_DEFAULT: Session | None = None


def default_client(service_name: str) -> Any:
    """A client from one process-wide session, for an adapter built without one (tests, scripts)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Session()
    return _DEFAULT.client(service_name)
