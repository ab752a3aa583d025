"""Carrier connections: one merchant, one carrier, one webhook secret.

The secret lives in SSM Parameter Store as a SecureString (never in the table); the webhook
path caches connections and secrets briefly so that a warm function reads neither per delivery.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Annotated, Any

from pydantic import BaseModel, Field

from shared.dynamo import keys, writes
from shared.dynamo.table import TableStore
from shared.dynamo.transactions import Requirement, Transaction
from shared.dynamo.writes import ITEM_IS_NEW
from shared.errors import Invalid
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.platform.settings import settings
from shared.shipments.carriers import CARRIERS, Carrier

__all__ = ["CARRIERS", "CachedConnections", "Carrier", "Connection", "ConnectionRepository", "webhook_url"]

CACHE_SECONDS = 30.0
CONNECTION_GONE = "connection_gone"  # the rule a delivery's writes fail on once it is deleted
# The carrier's own secret, as it issued it: EasyPost lets merchants choose theirs (its published
# example has 6 characters), so any non-empty text up to 256 characters. Ours stay long and random.
MAX_SECRET_LENGTH = 256
ConnectionSecret = Annotated[str, Field(min_length=1, max_length=MAX_SECRET_LENGTH, pattern=r"\S")]
GENERATED_SECRET_BYTES = 32


class Connection(BaseModel):
    id: str
    merchant_id: str
    carrier: Carrier
    created_at: str


def _secret_name(connection_id: str) -> str:
    prefix = settings().connection_secret_prefix
    return f"{prefix.rstrip('/')}/{connection_id}"


def webhook_url(base_url: str, connection: Connection) -> str:
    return f"{base_url.rstrip('/')}/webhooks/{connection.carrier}/{connection.id}"


class ConnectionRepository(TableStore):
    def __init__(self, table: Any | None = None, ssm: Any | None = None) -> None:
        super().__init__(table)
        self._ssm = ssm if ssm is not None else aws.client("ssm")

    def create(self, merchant_id: str, carrier: str, secret: str | None = None) -> tuple[Connection, str]:
        connection = Connection(id=new_id("con"), merchant_id=merchant_id, carrier=carrier,
                                created_at=clock.isoformat(clock.now()))
        if secret is not None and not (secret.strip() and len(secret) <= MAX_SECRET_LENGTH):
            raise Invalid(f"A connection secret is 1 to {MAX_SECRET_LENGTH} characters, not only blanks.",
                          errors=[{"field": "secret", "type": "string_length", "message": "1 to 256 characters"}])
        secret = secret or secrets.token_urlsafe(GENERATED_SECRET_BYTES)
        self._ssm.put_parameter(Name=_secret_name(connection.id), Value=secret, Type="SecureString", Overwrite=True)
        attributes = connection.model_dump()
        (Transaction(self._table)
         .put({**keys.connection(connection.id), **attributes}, condition=ITEM_IS_NEW, rule="connection_exists")
         .put({**keys.connection_of_merchant(merchant_id, connection.id), **attributes})
         .commit())
        return connection, secret

    def get(self, connection_id: str, *, consistent: bool = False) -> Connection | None:
        item = self._table.get_item(Key=keys.connection(connection_id), ConsistentRead=consistent).get("Item")
        return Connection.model_validate(keys.strip_keys(item)) if item else None

    def secret(self, connection_id: str) -> str:
        response = self._ssm.get_parameter(Name=_secret_name(connection_id), WithDecryption=True)
        return str(response["Parameter"]["Value"])

    def list(self, merchant_id: str) -> list[Connection]:
        return [Connection.model_validate(keys.strip_keys(item))
                for item in self.items_under(*keys.connections_prefix(merchant_id))]

    def delete(self, merchant_id: str, connection_id: str) -> None:
        self.required_item(keys.connection_of_merchant(merchant_id, connection_id),
                           f"Connection {connection_id} does not exist.")
        (Transaction(self._table)
         .delete(keys.connection(connection_id))
         .delete(keys.connection_of_merchant(merchant_id, connection_id))
         .commit())
        self._ssm.delete_parameter(Name=_secret_name(connection_id))


class CachedConnections:
    """Connection + secret lookups for the webhook hot path, kept for CACHE_SECONDS so that a warm
    function reads neither (nor SSM) per delivery.

    Revocation is immediate all the same: every write a delivery makes holds only while the
    connection item exists (`requirement`, a ConditionCheck in the write's transaction: no extra
    request), and a delivery that writes nothing (a repeat) reads the item (`confirm`). A deleted
    connection is forgotten the moment either finds it gone.
    """

    def __init__(self, repository: ConnectionRepository) -> None:
        self._repository = repository
        self._entries: dict[str, tuple[float, Connection | None, str | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, connection_id: str) -> tuple[Connection | None, str | None]:
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(connection_id)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1], cached[2]
        connection = self._repository.get(connection_id)
        if connection is None:
            return None, None  # not cached: a connection created a moment later must work at once
        secret = self._repository.secret(connection_id)
        with self._lock:
            self._entries[connection_id] = (now, connection, secret)
        return connection, secret

    @staticmethod
    def requirement(connection_id: str) -> Requirement:
        return Requirement(keys.connection(connection_id), writes.ITEM_EXISTS, CONNECTION_GONE)

    def confirm(self, connection_id: str) -> bool:
        """Whether the connection still exists (a consistent read: a deletion just made is seen)."""
        if self._repository.get(connection_id, consistent=True) is not None:
            return True
        self.forget(connection_id)
        return False

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._entries.pop(connection_id, None)
