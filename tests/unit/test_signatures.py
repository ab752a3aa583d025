"""Signature checks: signed as each provider signs (tests/carrier_signing.py), verified over the
raw bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.webhook.carriers import verify_signature
from functions.webhook.signatures import TIMESTAMP_TOLERANCE_SECONDS, TimestampOutsideWindow
from shared.shipments.carriers import CARRIERS
from tests.carrier_signing import (
    colis_headers,
    easypost_headers,
    sendcloud_headers,
    shippo_headers,
    shippo_query,
    signed_headers,
    timestamped_value,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_test_secret"
HEADER_NAMES = {
    "sendcloud": "Sendcloud-Signature",
    "easypost": "X-Hmac-Signature",
    "aftership": "aftership-hmac-sha256",
    "shippo": "Shippo-Auth-Signature",
    "colis": "Colis-Signature",
}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
BODY = (FIXTURES / "aftership_tracking_update.json").read_bytes()


def verify(
    carrier: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str = SECRET,
    query: Mapping[str, str] | None = None,
    now: datetime = NOW,
) -> bool:
    return verify_signature(carrier, secret, body, headers, query or {}, now)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_body_signed_as_the_provider_signs_verifies(carrier: str) -> None:
    assert verify(carrier, BODY, signed_headers(carrier, SECRET, BODY, NOW))


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_tampered_body_is_refused(carrier: str) -> None:
    headers = signed_headers(carrier, SECRET, BODY, NOW)
    tampered = BODY.replace(b"InTransit", b"Delivered")
    assert tampered != BODY
    assert not verify(carrier, tampered, headers)
    assert not verify(carrier, BODY + b" ", headers)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_wrong_secret_is_refused(carrier: str) -> None:
    headers = signed_headers(carrier, "another secret", BODY, NOW)
    assert not verify(carrier, BODY, headers)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_missing_signature_is_refused(carrier: str) -> None:
    assert not verify(carrier, BODY, {})
    assert not verify(carrier, BODY, {"Content-Type": "application/json"})


@pytest.mark.parametrize("carrier", CARRIERS)
def test_an_empty_secret_never_verifies(carrier: str) -> None:
    assert not verify(carrier, BODY, signed_headers(carrier, "", BODY, NOW), secret="")


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_header_names_are_case_insensitive(carrier: str, case: object) -> None:
    headers = {case(name): value for name, value in signed_headers(carrier, SECRET, BODY, NOW).items()}  # type: ignore[operator]
    assert verify(carrier, BODY, headers)


GARBAGE = [
    "",
    " ",
    "garbage",
    "é" * 64,
    "\x00\xff",
    "hmac-sha256-hex=",
    "hmac-sha256-hex=zz",
    "t=",
    "v1=",
    "t=,v1=",
    "t=abc,v1=abc",
    "t=1740830400",
    "v1=" + "0" * 64,
    "t=1740830400,t=1740830400,v1=" + "0" * 64,
    "t=-1740830400,v1=" + "0" * 64,
    "t=" + "9" * 5000 + ",v1=" + "0" * 64,
    "t=" + "".join(chr(ord(digit) + 0xFEE0) for digit in "1740830400") + ",v1=" + "0" * 64,  # fullwidth
    "t=1740830400,v1=é",
    "===,,,=,",
    "a" * 10_000,
]


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_signature_headers_are_refused_without_raising(carrier: str, value: str) -> None:
    assert not verify(carrier, BODY, {HEADER_NAMES[carrier]: value})


@pytest.mark.parametrize("carrier", CARRIERS)
def test_odd_header_and_query_containers_are_refused_without_raising(carrier: str) -> None:
    assert not verify_signature(carrier, SECRET, BODY, None, None, NOW)  # type: ignore[arg-type]
    odd = {HEADER_NAMES[carrier]: ["a", "list"], "token": None}
    assert not verify_signature(carrier, SECRET, BODY, odd, odd, NOW)  # type: ignore[arg-type]


def test_an_unknown_carrier_never_verifies() -> None:
    assert not verify("ups", BODY, signed_headers("sendcloud", SECRET, BODY, NOW))


def test_sendcloud_signs_the_raw_bytes_so_reserialising_breaks_it() -> None:
    payload = json.loads((FIXTURES / "sendcloud_parcel_status_changed.json").read_bytes())
    raw = json.dumps(payload).encode()  # Sendcloud's spacing: ", " and ": "
    headers = sendcloud_headers(SECRET, raw)
    assert verify("sendcloud", raw, headers)
    for reserialised in (
        json.dumps(payload, separators=(",", ":")).encode(),
        json.dumps(payload, indent=2).encode(),
        json.dumps(payload, sort_keys=True).encode(),
    ):
        assert reserialised != raw
        assert json.loads(reserialised) == payload
        assert not verify("sendcloud", reserialised, headers)


def test_sendcloud_accepts_an_uppercase_hex_signature() -> None:
    headers = {"Sendcloud-Signature": sendcloud_headers(SECRET, BODY)["Sendcloud-Signature"].upper()}
    assert verify("sendcloud", BODY, headers)


@pytest.mark.parametrize("secret", ["ﬁsh-secret", "Å-secret", "\uff57\uff49\uff44\uff45-secret"])
def test_easypost_normalises_the_secret_with_nfkd(secret: str) -> None:
    normalised = unicodedata.normalize("NFKD", secret)
    assert normalised != secret
    headers = easypost_headers(secret, BODY)
    assert verify("easypost", BODY, headers, secret=secret)
    # The same secret typed already normalised is the same key for EasyPost.
    assert verify("easypost", BODY, headers, secret=normalised)


def test_easypost_refuses_a_signature_keyed_with_the_unnormalised_secret() -> None:
    secret = "ﬁsh-secret"
    unnormalised = hmac.new(secret.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    assert not verify("easypost", BODY, {"X-Hmac-Signature": f"hmac-sha256-hex={unnormalised}"}, secret=secret)


def test_easypost_needs_its_prefix() -> None:
    bare = easypost_headers(SECRET, BODY)["X-Hmac-Signature"].removeprefix("hmac-sha256-hex=")
    assert not verify("easypost", BODY, {"X-Hmac-Signature": bare})


@pytest.mark.parametrize("carrier", ["colis", "shippo"])
@pytest.mark.parametrize("skew_seconds", [0, 1, -1, TIMESTAMP_TOLERANCE_SECONDS, -TIMESTAMP_TOLERANCE_SECONDS])
def test_timestamped_signatures_verify_within_300_seconds(carrier: str, skew_seconds: int) -> None:
    signed_at = NOW + timedelta(seconds=skew_seconds)
    assert verify(carrier, BODY, signed_headers(carrier, SECRET, BODY, signed_at))


@pytest.mark.parametrize("carrier", ["colis", "shippo"])
@pytest.mark.parametrize("skew_seconds", [301, -301, 3600, -86_400])
def test_timestamped_signatures_outside_300_seconds_are_refused_saying_so(carrier: str, skew_seconds: int) -> None:
    signed_at = NOW + timedelta(seconds=skew_seconds)
    with pytest.raises(TimestampOutsideWindow) as refused:
        verify(carrier, BODY, signed_headers(carrier, SECRET, BODY, signed_at))
    assert "timestamp is outside the 300 s window" in refused.value.detail
    assert f"{abs(skew_seconds)} s {'ahead of' if skew_seconds > 0 else 'behind'}" in refused.value.detail


@pytest.mark.parametrize("carrier", ["colis", "shippo"])
def test_a_stale_signature_under_another_secret_is_only_a_mismatch(carrier: str) -> None:
    signed_at = NOW - timedelta(hours=1)
    assert not verify(carrier, BODY, signed_headers(carrier, "another secret", BODY, signed_at))


@pytest.mark.parametrize("carrier", ["colis", "shippo"])
def test_the_window_follows_the_product_clock_not_the_signer(carrier: str) -> None:
    signed_at = NOW - timedelta(days=3)
    headers = signed_headers(carrier, SECRET, BODY, signed_at)
    assert verify(carrier, BODY, headers, now=signed_at + timedelta(seconds=10))
    with pytest.raises(TimestampOutsideWindow):
        verify(carrier, BODY, headers, now=NOW)


def test_colis_timestamp_is_part_of_what_is_signed() -> None:
    value = colis_headers(SECRET, BODY, NOW)["Colis-Signature"]
    moved = value.replace(f"t={int(NOW.timestamp())}", f"t={int(NOW.timestamp()) + 1}")
    assert not verify("colis", BODY, {"Colis-Signature": moved})


def test_colis_rotation_any_v1_matching_passes() -> None:
    headers = colis_headers(["old secret", "new secret"], BODY, NOW)
    assert headers["Colis-Signature"].count("v1=") == 2
    assert verify("colis", BODY, headers, secret="old secret")
    assert verify("colis", BODY, headers, secret="new secret")
    assert not verify("colis", BODY, headers, secret="third secret")


def test_colis_ignores_unknown_signature_schemes_and_spaces() -> None:
    unix = int(NOW.timestamp())
    value = timestamped_value([SECRET], BODY, unix).replace(",", " , ")
    assert verify("colis", BODY, {"Colis-Signature": f"v0=deadbeef , {value}"})


def test_shippo_token_in_the_query_verifies_without_header() -> None:
    assert verify("shippo", BODY, {}, query=shippo_query(SECRET))


@pytest.mark.parametrize("token", ["", "wrong", SECRET + "x", SECRET[:-1], SECRET.upper()])
def test_shippo_wrong_token_is_refused(token: str) -> None:
    assert not verify("shippo", BODY, {}, query={"token": token})


def test_shippo_wrong_token_but_valid_hmac_verifies() -> None:
    assert verify("shippo", BODY, shippo_headers(SECRET, BODY, NOW), query={"token": "wrong"})


def test_shippo_hmac_with_the_wrong_secret_and_no_token_is_refused() -> None:
    assert not verify("shippo", BODY, shippo_headers("wrong", BODY, NOW), query={"other": SECRET})


def test_signing_helpers_do_not_share_the_verifier_code() -> None:
    helper = (Path(__file__).resolve().parents[1] / "carrier_signing.py").read_text()
    assert "functions.webhook" not in helper


def test_colis_timestamp_is_signed_as_the_text_sent() -> None:
    sent = "0" + str(int(NOW.timestamp()))
    digest = hmac.new(SECRET.encode(), sent.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    assert verify("colis", BODY, {"Colis-Signature": f"t={sent},v1={digest}"})
