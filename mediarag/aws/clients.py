"""boto3 clients and the mapping of AWS errors onto `mediarag.errors.ServiceError`.

Region and credentials come from the standard AWS chain (environment variables, the shared
config and credentials files, an instance or container role); nothing is hard-coded.
``endpoint_url`` points one client at another address (a local test server); botocore's own
``AWS_ENDPOINT_URL_<SERVICE>`` environment variables work too.

Throttling (HTTP 429 and the throttling error codes) and 5xx answers are retried by botocore's
``standard`` retry mode: exponential backoff with jitter, ``max_attempts`` tries in all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, MissingDependencyError, ServiceError

#: Error codes AWS services use for "you may not do this".
_DENIED = frozenset(
    {
        "AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
        "InvalidSignatureException", "SignatureDoesNotMatch", "InvalidClientTokenId",
        "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "403",
    }
)  # fmt: skip
#: Error codes for "there is no such thing".
_MISSING = frozenset(
    {
        "NoSuchKey", "NoSuchBucket", "NotFound", "NotFoundException", "ResourceNotFound",
        "ResourceNotFoundException", "404",
    }
)  # fmt: skip
_THROTTLED = frozenset(
    {
        "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
        "RequestThrottledException", "SlowDown", "LimitExceededException", "429",
    }
)  # fmt: skip


@dataclass(frozen=True)
class AwsConfig:
    """How to reach AWS. Every field defaults to the standard AWS chain.

    Args:
        region: AWS region; ``None`` takes ``AWS_REGION``/``AWS_DEFAULT_REGION`` or the profile's.
        profile: a named profile of the shared config files; ``None`` for the default chain.
        endpoint_url: send every request of the client to this URL (tests, VPC endpoints).
        max_attempts: tries per request, the first included, for throttling and 5xx answers.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for an answer (a long transcription needs minutes).
    """

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 300.0


def make_client(service: str, config: AwsConfig | None = None) -> Any:
    """A boto3 client for ``service`` (``"sagemaker-runtime"``, ``"s3"``, ``"transcribe"``...)."""
    config = config or AwsConfig()
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError, ProfileNotFound
    except ImportError as exc:
        raise MissingDependencyError("boto3", "aws", "the AWS services") from exc
    retry = Config(
        retries={"mode": "standard", "total_max_attempts": max(1, config.max_attempts)},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
    )
    try:
        session = boto3.session.Session(profile_name=config.profile, region_name=config.region)
        return session.client(service, endpoint_url=config.endpoint_url, config=retry)
    except NoRegionError as exc:
        raise ConfigError(
            f"no AWS region for {service}: set AWS_REGION (or AWS_DEFAULT_REGION), a profile's "
            "region, or the region setting"
        ) from exc
    except ProfileNotFound as exc:
        raise ConfigError(f"AWS profile {config.profile!r} not found") from exc


def service_error(resource: str, exc: BaseException) -> ServiceError:
    """The `ServiceError` naming ``resource`` for a botocore exception."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, NoCredentialsError):
        return ServiceError(resource, "access_denied", "no AWS credentials found in the standard chain")
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return ServiceError(resource, "timeout", str(exc))
    if isinstance(exc, EndpointConnectionError):
        return ServiceError(resource, "failed", str(exc))
    if not isinstance(exc, ClientError):
        return ServiceError(resource, "failed", f"{type(exc).__name__}: {exc}")
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "") or exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    detail = f"{code}: {message}" if code and code not in message else message
    lowered = message.lower()
    if status == 413 or code == "RequestEntityTooLarge" or "too large" in lowered:
        return ServiceError(resource, "too_large", detail)
    if status == 403 or code in _DENIED:
        return ServiceError(resource, "access_denied", detail)
    if status == 404 or code in _MISSING or (code == "ValidationError" and "not found" in lowered):
        return ServiceError(resource, "not_found", detail)
    if status == 429 or code in _THROTTLED:
        return ServiceError(resource, "throttled", detail + " (still throttled after retries)")
    if code in ("ModelStreamError", "InternalStreamFailure"):  # an error event mid-stream
        return ServiceError(resource, "failed", detail)
    if code == "ModelError":  # the container itself answered with an error
        original = error.get("OriginalStatusCode") or exc.response.get("OriginalStatusCode")
        body = exc.response.get("OriginalMessage") or message
        return ServiceError(resource, "failed", f"the model container answered {original}: {body}")
    if status >= 500:
        return ServiceError(resource, "failed", detail + " (after retries)")
    return ServiceError(resource, "invalid", detail)


@contextlib.contextmanager
def service_errors(resource: str) -> Iterator[None]:
    """Turn botocore errors raised inside the block into a `ServiceError` naming ``resource``."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("botocore", "boto3", "s3transfer", "urllib3")):
            raise service_error(resource, exc) from exc
        raise
