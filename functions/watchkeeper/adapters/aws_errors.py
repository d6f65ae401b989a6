"""One place that turns botocore errors into the project's own exceptions."""
from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, ReadTimeoutError

from ..ports import ConflictError, NotFoundError, TransientError, WatchkeeperError

_TRANSIENT = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ProvisionedThroughputExceededException",
              "RequestLimitExceeded", "ServiceUnavailable", "InternalServerError", "InternalFailure",
              "RequestTimeout", "LimitExceededException", "ModelTimeoutException", "ServiceUnavailableException"}
_CONFLICT = {"ConditionalCheckFailedException", "TransactionCanceledException", "ExecutionAlreadyExists"}
_NOT_FOUND = {"ResourceNotFoundException", "NoSuchKey", "ParameterNotFound", "NotFoundException"}


def translate(exc: Exception, what: str) -> WatchkeeperError:
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError)):
        return TransientError(f"{what}: {exc}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in _TRANSIENT:
            return TransientError(f"{what}: {code}: {message}")
        if code in _CONFLICT:
            return ConflictError(f"{what}: {code}: {message}")
        if code in _NOT_FOUND:
            return NotFoundError(f"{what}: {code}: {message}")
        return WatchkeeperError(f"{what}: {code}: {message}")
    return WatchkeeperError(f"{what}: {exc}")
