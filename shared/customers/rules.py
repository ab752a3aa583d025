"""The customers' identity rules.

Identity rules:
- a username is compared exactly (after trimming surrounding spaces); an email is compared
  case-insensitively (`str.casefold`). Both are unique per merchant, each through a unique-key item
  (`keys.customer_username` / `keys.customer_email`) that names the record owning it. Creating or
  changing a record puts its unique-key items with `attribute_not_exists` in the same transaction.
- an absorbed record keeps `merged_into`; its unique-key items are repointed to the master, and
  every read (`get`, `find_by_username`, `find_by_email`) answers with the master.
- the bulk CSV import claims unique-key items one by one (conditional puts) before writing the
  records in batches, so a claim can briefly exist before its record: readers treat a claim whose
  record is missing as "nobody", creators wait for it, and a claim left behind by a crashed
  import is taken over once it is `STALE_CLAIM_SECONDS` old.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from shared.dynamo import keys
from shared.errors import Refused
from shared.platform import clock
from shared.values.models import Address

STALE_CLAIM_SECONDS = 300
FENCE_LEASE_SECONDS = 180
FENCE_WAIT_SECONDS = 60
MAX_MERGE_CHAIN = 20


def email_key(email: str) -> str:
    """The form under which emails are compared: case-insensitive."""
    return email.strip().casefold()


# --- address fingerprints (duplicate candidates) -----------------------------------------------
def _fold(text: str | None) -> str:
    """Case, spacing, punctuation and accents ignored: `Rue de l'Église` == `RUE DE L EGLISE`.
    Accents are folded because the same street is often typed with and without them."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def address_fingerprint(address: Address) -> str:
    """Country + postal code + first address line, normalised by `_fold`, then hashed so that the
    index keys carry no address. Prefixed by the country, which keeps keys readable."""
    country = address.country.upper()
    normalised = f"{country}|{_fold(address.postal_code)}|{_fold(address.address_1)}"
    return f"{country}-{keys.digest(normalised)[:40]}"



class ClaimTaken(Refused):
    """A username or email belongs to another record."""

    def __init__(self, kind: str, owner_id: str | None) -> None:
        owner = f" by customer {owner_id}" if owner_id else ""
        super().__init__(f"That {kind} is already used{owner}; each customer needs its own {kind}.",
                         rule=f"{kind}_taken")
        self.kind = kind
        self.owner_id = owner_id



def parse_time(value: object) -> datetime:
    """A stored timestamp; the epoch for a missing one (an old claim: stale)."""
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def claim_is_stale(claimed_at: object) -> bool:
    """A claim whose record never appeared for `STALE_CLAIM_SECONDS` was left by a crashed import."""
    return clock.now() - parse_time(claimed_at) >= timedelta(seconds=STALE_CLAIM_SECONDS)
