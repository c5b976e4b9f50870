"""AWS Secrets Manager as the secret store (optionally encrypted under a customer KMS key).

Each secret is its own Secrets Manager secret named ``<prefix>/<org id | platform>/<credential
id>/<version>``; the row keeps its ARN. Reading checks that the name belongs to the credential
asking, the counterpart of the local envelope's associated data. boto3 is synchronous, so every
call runs in a worker thread.
"""

import asyncio
import logging
import uuid
from typing import Any

import boto3
import structlog
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from session_svc.credentials.ports import (
    SecretBinding,
    SecretStoreUnavailable,
    SecretUnreadable,
    StoredSecret,
)
from session_svc.settings import SessionSettings

log = structlog.get_logger()

BACKEND = "aws"
# Answers that say the secret itself is the problem; anything else is the store being unavailable.
UNREADABLE_CODES = {"ResourceNotFoundException", "DecryptionFailure", "InvalidRequestException"}


class AwsSecretsManagerStore:
    backend = BACKEND

    def __init__(
        self, client: Any, *, prefix: str = "voice/credentials", kms_key_id: str | None = None,
        recovery_window_days: int = 7,
    ) -> None:
        self._client = client
        self._prefix = prefix.strip("/")
        self._kms_key_id = kms_key_id
        self._recovery_window_days = recovery_window_days

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> "AwsSecretsManagerStore":
        # botocore logs request bodies, secrets included, at DEBUG: never let it below WARNING.
        logging.getLogger("botocore").setLevel(max(logging.getLogger("botocore").level, logging.WARNING))
        client = boto3.session.Session().client(
            "secretsmanager", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )
        return cls(client, prefix=settings.aws_secret_prefix, kms_key_id=settings.aws_kms_key_id,
                   recovery_window_days=settings.aws_recovery_window_days)

    def _base_name(self, binding: SecretBinding) -> str:
        return f"{self._prefix}/{binding.scope_label}/{binding.credential_id}/"

    async def put(self, binding: SecretBinding, secret: SecretStr) -> StoredSecret:
        name = self._base_name(binding) + uuid.uuid4().hex[:12]
        args: dict[str, Any] = {
            "Name": name,
            "SecretString": secret.get_secret_value(),
            "Description": f"voice platform credential {binding.credential_id}",
            "Tags": [{"Key": "voice:scope", "Value": binding.scope_label},
                     {"Key": "voice:credential", "Value": str(binding.credential_id)}],
        }
        if self._kms_key_id:
            args["KmsKeyId"] = self._kms_key_id
        answer = await self._call("create_secret", binding, args)
        return StoredSecret(backend=BACKEND, secret_ref=answer["ARN"], kek_id=self._kms_key_id)

    async def get(self, binding: SecretBinding, stored: StoredSecret) -> SecretStr:
        if not stored.secret_ref:
            raise SecretUnreadable("The credential has no Secrets Manager reference.",
                                   details={"reason": "missing"})
        answer = await self._call("get_secret_value", binding, {"SecretId": stored.secret_ref})
        if not str(answer.get("Name", "")).startswith(self._base_name(binding)):
            raise SecretUnreadable(
                "The Secrets Manager secret this row names belongs to another credential.",
                details={"reason": "binding_mismatch"},
            )
        if "SecretString" not in answer:
            raise SecretUnreadable("The Secrets Manager secret holds no text.", details={"reason": "binary"})
        return SecretStr(answer["SecretString"])

    async def delete(self, binding: SecretBinding, stored: StoredSecret) -> None:
        if stored.secret_ref:
            await self._call("delete_secret", binding, {
                "SecretId": stored.secret_ref, "RecoveryWindowInDays": self._recovery_window_days,
            })

    async def _call(self, operation: str, binding: SecretBinding, args: dict[str, Any]) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, operation), **args)
        except ClientError as e:
            # Only the error code is kept: botocore messages are not ours to vouch for.
            code = e.response.get("Error", {}).get("Code", "Unknown")
            log.warning("secret_store_error", backend=BACKEND, operation=operation, code=code,
                        credential_id=str(binding.credential_id))
            if code in UNREADABLE_CODES and operation != "create_secret":
                raise SecretUnreadable(
                    f"Secrets Manager could not return the secret ({code}).",
                    details={"reason": code},
                ) from None
            raise SecretStoreUnavailable(
                f"Secrets Manager refused {operation} ({code}); try again, or check the service's "
                "AWS permissions.", details={"code": code},
            ) from None
        except BotoCoreError as e:
            log.warning("secret_store_unreachable", backend=BACKEND, operation=operation,
                        error_type=type(e).__name__, credential_id=str(binding.credential_id))
            raise SecretStoreUnavailable(
                "Secrets Manager could not be reached; try again shortly.",
                details={"error": type(e).__name__},
            ) from None
