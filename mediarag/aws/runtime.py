"""Calling a SageMaker real-time endpoint through ``sagemaker-runtime``.

A `SageMakerEndpoint` sends bytes and gets bytes back; what the bytes mean is the business of a
content handler, one small class per container contract, next to the component that uses it
(`mediarag.transcribe.sagemaker`, `mediarag.embed.sagemaker`, `mediarag.generate.sagemaker`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError, ServiceError
from .clients import AwsConfig, make_client, service_errors

#: Real-time inference takes request payloads up to 6 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024

#: The AWS sample's environment variables holding endpoint names.
WHISPER_ENDPOINT_ENV = "wp_ep_name"
EMBEDDING_ENDPOINT_ENV = "embed_ep_name"
GENERATOR_ENDPOINT_ENV = "falcon_ep_name"


def endpoint_name(name: str | None, env_var: str) -> str:
    """``name``, else the environment variable ``env_var``; a `ConfigError` names both if neither."""
    value = name or os.environ.get(env_var) or os.environ.get(env_var.upper())
    if not value:
        raise ConfigError(f"no SageMaker endpoint name: pass one or set the {env_var} environment variable")
    return value


class SageMakerEndpoint:
    """One SageMaker real-time endpoint.

    Args:
        name: the endpoint's name.
        config: region, credentials, retries (`mediarag.aws.clients.AwsConfig`).
        max_payload_bytes: the largest request body sent; larger ones raise `ServiceError`
            (``too_large``) before any call.
        client: a ready ``sagemaker-runtime`` client, instead of one made from ``config``.
    """

    def __init__(
        self,
        name: str,
        *,
        config: AwsConfig | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        client: Any = None,
    ) -> None:
        self.name = name
        self.config = config or AwsConfig()
        self.max_payload_bytes = max_payload_bytes
        self._client = client

    @classmethod
    def named(cls, name: str | None, env_var: str, **options: Any) -> SageMakerEndpoint:
        """The endpoint ``name``, else the one the environment variable ``env_var`` names
        (`endpoint_name`); ``options`` as for the constructor."""
        return cls(endpoint_name(name, env_var), **options)

    @property
    def resource(self) -> str:
        """How errors name this endpoint."""
        return f"SageMaker endpoint '{self.name}'"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("sagemaker-runtime", self.config)
        return self._client

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        """POST ``body`` to the endpoint and return the response body."""
        self._check_size(body)
        with service_errors(self.resource):
            response = self.client.invoke_endpoint(
                EndpointName=self.name, Body=body, ContentType=content_type, Accept=accept
            )
            return response["Body"].read()

    def invoke_stream(self, body: bytes, content_type: str, accept: str) -> Iterator[bytes]:
        """POST ``body`` and yield the response's payload parts as they arrive."""
        self._check_size(body)
        with service_errors(self.resource):
            response = self.client.invoke_endpoint_with_response_stream(
                EndpointName=self.name, Body=body, ContentType=content_type, Accept=accept
            )
            for event in response["Body"]:
                if "PayloadPart" in event:
                    yield event["PayloadPart"].get("Bytes", b"")
                else:
                    kind, detail = next(iter(event.items()))
                    raise ServiceError(self.resource, "failed", f"{kind}: {detail}")

    def _check_size(self, body: bytes) -> None:
        if len(body) > self.max_payload_bytes:
            raise ServiceError(
                self.resource,
                "too_large",
                f"request of {len(body)} bytes is over the {self.max_payload_bytes}-byte payload limit",
            )
