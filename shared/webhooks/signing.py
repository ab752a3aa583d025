"""Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` holds
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret, separated by spaces, the key being
the base64-decoded part of the `whsec_` secret. During a rotation both secrets sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from shared.webhooks.model import secret_key


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode("ascii")


def signed_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets)}
