"""Transactions whose conditions have names, so a cancelled transaction says which rule refused.

    tx = Transaction(table)
    tx.put(refund_item, condition=ITEM_IS_NEW, rule="refund_exists")
    tx.update(ledger_key, "ADD refunded :a", condition="refunded + :a <= paid", rule="within_paid", values=...)
    tx.commit()          # Refused(rule="within_paid"), or ChangedMeanwhile when another transaction won

Items and values are plain Python (the resource's client serialises them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from shared.dynamo.writes import VERSION_CHANGED, conditioned, refusal
from shared.errors import ChangedMeanwhile, Refused

MAX_ITEMS = 100  # DynamoDB's limit per TransactWriteItems


class Requirement(NamedTuple):
    """A condition on another item that a write holds only while it is met: a ConditionCheck in the
    write's transaction (e.g. the carrier connection a delivery came through still exists)."""

    key: Mapping[str, Any]
    condition: str
    rule: str


def refused_by(error: Refused, rule: str) -> bool:
    """Whether `rule` is among the conditions that refused (every one, for a transaction)."""
    return rule in getattr(error, "rules", frozenset({error.rule}))


class TransactionRefused(Refused):
    """One or more named conditions failed; `rules` names every one (`rule` is the first)."""

    def __init__(self, rules: frozenset[str], detail: str | None = None) -> None:
        first = sorted(rules)[0]
        super().__init__(detail or refusal(first).detail, rule=first)
        self.rules = rules


@dataclass
class Transaction:
    table: Any
    operations: list[dict[str, Any]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def _add(self, kind: str, body: dict[str, Any], condition: str | None, rule: str,
             values: Mapping[str, Any] | None, names: Mapping[str, str] | None) -> Transaction:
        self.operations.append({kind: {**conditioned(self.table, condition, values, names), **body}})
        self.rules.append(rule)
        return self

    def put(self, item: Mapping[str, Any], *, condition: str | None = None, rule: str = "unconditional",
            values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None) -> Transaction:
        return self._add("Put", {"Item": dict(item)}, condition, rule, values, names)

    def update(self, key: Mapping[str, Any], expression: str, *, condition: str | None = None,
               rule: str = "unconditional", values: Mapping[str, Any] | None = None,
               names: Mapping[str, str] | None = None) -> Transaction:
        return self._add("Update", {"Key": dict(key), "UpdateExpression": expression}, condition, rule, values, names)

    def delete(self, key: Mapping[str, Any], *, condition: str | None = None, rule: str = "unconditional",
               values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None) -> Transaction:
        return self._add("Delete", {"Key": dict(key)}, condition, rule, values, names)

    def check(self, key: Mapping[str, Any], condition: str, *, rule: str,
              values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None) -> Transaction:
        return self._add("ConditionCheck", {"Key": dict(key)}, condition, rule, values, names)

    def require(self, requirement: Requirement | None) -> Transaction:
        """Holds the transaction to `requirement` (nothing when None)."""
        if requirement is None:
            return self
        return self.check(requirement.key, requirement.condition, rule=requirement.rule)

    def __len__(self) -> int:
        return len(self.operations)

    def commit(self) -> None:
        """All or nothing. A failed named condition raises `TransactionRefused` (or
        `ChangedMeanwhile` when the version check is among them); a conflicting transaction
        raises `ChangedMeanwhile`. A malformed transaction is a bug and is raised as it is."""
        if not self.operations:
            return
        if len(self.operations) > MAX_ITEMS:
            raise ValueError(f"a transaction takes at most {MAX_ITEMS} items, not {len(self.operations)}")
        try:
            self.table.meta.client.transact_write_items(TransactItems=self.operations)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = [str(r.get("Code") or "None") for r in error.response.get("CancellationReasons") or []]
            if any(code not in ("None", "ConditionalCheckFailed", "TransactionConflict") for code in codes):
                raise
            failed = frozenset(self.rules[i] for i, code in enumerate(codes)
                               if code == "ConditionalCheckFailed" and i < len(self.rules))
            if not failed:
                raise ChangedMeanwhile(rule="transaction_conflict") from error
            if VERSION_CHANGED in failed:
                raise ChangedMeanwhile(rule=VERSION_CHANGED) from error
            raise TransactionRefused(failed) from error


def stage_within(tx: Transaction, *, puts: list[dict[str, Any]],
                 deletes: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Adds unconditional puts and deletes (derived entries: idempotent) while the transaction has
    room, deletes first; answers (puts, deletes) left over, for the caller to write after the commit."""
    room = max(0, MAX_ITEMS - len(tx))
    staged_deletes, left_deletes = deletes[:room], deletes[room:]
    room -= len(staged_deletes)
    staged_puts, left_puts = puts[:room], puts[room:]
    for key in staged_deletes:
        tx.delete(key)
    for item in staged_puts:
        tx.put(item)
    return left_puts, left_deletes
