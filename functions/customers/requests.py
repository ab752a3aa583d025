"""`POST /v1/customers` and `PATCH /v1/customers/{id}`: what a merchant may write on a record.

Apart from `shared.customers` because only the customers function takes these bodies: every other
function reading or writing customer records would build their models at cold start for nothing.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from shared.customers.model import MAX_TAG_LENGTH, MAX_TAGS, STORE_MANUAL, TAG_SEPARATOR
from shared.values.models import Address, empty_list

_EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _clean_tags(value: object) -> object:
    """Trimmed, without blanks, each once, in the order given."""
    if not isinstance(value, list):
        return value
    seen: dict[str, None] = {}
    for tag in value:
        if isinstance(tag, str):
            tag = tag.strip()
            if tag:
                seen.setdefault(tag, None)
        else:
            return value  # let the type check report it
    return list(seen)


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if TAG_SEPARATOR in tag:
            raise ValueError(f"a tag cannot contain '{TAG_SEPARATOR}' (it separates tags in CSV files)")
    return tags


def _optional(max_length: int, pattern: str | None = None) -> Any:
    """Optional text: blank means absent; the limits apply to text only (`null` clears a field)."""
    text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length, pattern=pattern)]
    return Annotated[text | None, BeforeValidator(_blank_to_none)]


OptionalName = _optional(200)
Username = _optional(200)
Email = _optional(254, _EMAIL_PATTERN + "|^redacted$")
Phone = _optional(40)
# No minimum length: a blank tag is not refused but dropped (`_clean_tags` runs first), as a blank cell
# of the CSV import is; the document must not promise a refusal the API does not make.
Tag = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TAG_LENGTH)]
Tags = Annotated[list[Tag], BeforeValidator(_clean_tags), AfterValidator(_check_tags),
                 Field(max_length=MAX_TAGS, description="Trimmed; blank tags and repeats are dropped.")]
StoreName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$")]


class CustomerIn(BaseModel):
    """`POST /v1/customers`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: Username = None
    email: Email = None
    first_name: OptionalName = None
    last_name: OptionalName = None
    name: OptionalName = None
    company: OptionalName = None
    phone: Phone = None
    address: Address | None = None
    tags: Tags = Field(default_factory=empty_list)
    store: StoreName = STORE_MANUAL


class CustomerPatch(BaseModel):
    """`PATCH /v1/customers/{id}`: the fields given replace the stored ones; `null` clears one.
    There is no status to change: customers cannot be deleted or deactivated."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: Username = None
    email: Email = None
    first_name: OptionalName = None
    last_name: OptionalName = None
    name: OptionalName = None
    company: OptionalName = None
    phone: Phone = None
    address: Address | None = None
    tags: Tags | None = None
