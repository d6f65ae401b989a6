"""The write path's error boundary: whatever is worth retrying leaves as `TransientError`.

Step Functions matches Retry on the error's name, so a botocore throttle, timeout or broken
connection, a Kubernetes transport error or an `OutcomeUnknown` is raised again as
`TransientError` (the name the state machine retries); the step's idempotency records make
the retry safe."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import urllib3
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

from ..adapters.aws_errors import translate
from ..ports import TransientError


@contextlib.contextmanager
def retried_as_transient(what: str) -> Iterator[None]:
    try:
        yield
    except TransientError as exc:
        if type(exc) is TransientError:
            raise
        raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except ClientError as exc:
        translated = translate(exc, what)
        if isinstance(translated, TransientError):
            raise TransientError(str(translated)) from exc
        raise
    except (BotoConnectionError, HTTPClientError, urllib3.exceptions.HTTPError) as exc:   # timeouts, resets
        raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from exc
