import pytest

from functions.notify.milestones import (
    DEFAULT_ENABLED,
    Milestone,
    enabled_milestones,
    milestones_for_change,
)
from shared.merchants.model import NotificationSettings
from shared.shipments.statuses import TrackingStatus as S

M = Milestone

# DESIGN.md §1.2, one event at a time:
# name, previous parcel, new parcel, previous shipment, new shipment -> milestones
# fmt: off
RULES = [
    ("first_scan_is_in_transit",                                       S.pre_transit,           S.in_transit,            S.pre_transit,       S.in_transit,            [M.in_transit]),
    ("first_scan_after_unknown_is_in_transit",                         S.unknown,               S.in_transit,            S.unknown,           S.in_transit,            [M.in_transit]),
    ("first_scan_without_previous_status_is_in_transit",               None,                    S.in_transit,            None,                S.in_transit,            [M.in_transit]),
    ("first_scan_out_for_delivery_is_in_transit_and_out_for_delivery", S.pre_transit,           S.out_for_delivery,      S.pre_transit,       S.out_for_delivery,      [M.in_transit, M.out_for_delivery]),
    ("first_scan_failed_attempt_is_in_transit",                        S.pre_transit,           S.failed_attempt,        S.pre_transit,       S.failed_attempt,        [M.in_transit]),
    ("first_scan_exception_is_in_transit",                             S.pre_transit,           S.exception,             S.pre_transit,       S.exception,             [M.in_transit]),
    ("first_scan_returned_is_in_transit",                              S.pre_transit,           S.returned_to_sender,    S.pre_transit,       S.returned_to_sender,    [M.in_transit]),
    ("first_scan_of_one_parcel_among_several_is_in_transit",           S.pre_transit,           S.in_transit,            S.pre_transit,       S.pre_transit,           [M.in_transit]),
    ("first_scan_delayed_is_in_transit_and_delayed",                   S.pre_transit,           S.delayed,               S.pre_transit,       S.delayed,               [M.in_transit, M.delayed]),
    ("first_scan_at_pickup_point_is_in_transit_and_ready_for_pickup",  S.pre_transit,           S.available_for_pickup,  S.pre_transit,       S.available_for_pickup,  [M.in_transit, M.ready_for_pickup]),
    ("first_scan_completing_delivery_is_only_delivered",               S.pre_transit,           S.delivered,             S.pre_transit,       S.delivered,             [M.delivered]),
    ("first_scan_after_unknown_completing_delivery_is_only_delivered", S.unknown,               S.delivered,             S.unknown,           S.delivered,             [M.delivered]),
    ("first_scan_delivered_while_another_parcel_waits_is_in_transit",  S.pre_transit,           S.delivered,             S.pre_transit,       S.pre_transit,           [M.in_transit]),
    ("later_scan_is_nothing",                                          S.in_transit,            S.in_transit,            S.in_transit,        S.in_transit,            []),
    ("parcel_out_for_delivery_is_out_for_delivery",                    S.in_transit,            S.out_for_delivery,      S.in_transit,        S.out_for_delivery,      [M.out_for_delivery]),
    ("one_parcel_out_for_delivery_among_several_is_out_for_delivery",  S.in_transit,            S.out_for_delivery,      S.in_transit,        S.in_transit,            [M.out_for_delivery]),
    ("out_for_delivery_again_after_a_failed_attempt_is_named_again",   S.failed_attempt,        S.out_for_delivery,      S.failed_attempt,    S.out_for_delivery,      [M.out_for_delivery]),
    ("out_for_delivery_of_a_closed_shipment_sends_nothing",            S.in_transit,            S.out_for_delivery,      S.archived,          S.archived,              []),
    ("failed_attempt_later_is_nothing",                                S.out_for_delivery,      S.failed_attempt,        S.out_for_delivery,  S.failed_attempt,        []),
    ("delayed_parcel_is_delayed",                                      S.in_transit,            S.delayed,               S.in_transit,        S.delayed,               [M.delayed]),
    ("delayed_parcel_is_delayed_whatever_the_shipment_shows",          S.in_transit,            S.delayed,               S.in_transit,        S.in_transit,            [M.delayed]),
    ("parcel_at_pickup_point_is_ready_for_pickup",                     S.out_for_delivery,      S.available_for_pickup,  S.out_for_delivery,  S.available_for_pickup,  [M.ready_for_pickup]),
    ("last_parcel_delivered_is_delivered",                             S.out_for_delivery,      S.delivered,             S.out_for_delivery,  S.delivered,             [M.delivered]),
    ("one_parcel_delivered_among_several_is_nothing",                  S.out_for_delivery,      S.delivered,             S.in_transit,        S.in_transit,            []),
    ("shipment_already_delivered_is_not_delivered_again",              S.available_for_pickup,  S.delivered,             S.delivered,         S.delivered,             []),
    ("returned_after_delivery_is_nothing",                             S.delivered,             S.returned_to_sender,    S.delivered,         S.returned_to_sender,    []),
    ("unknown_is_not_a_scan",                                          S.pre_transit,           S.unknown,               S.pre_transit,       S.pre_transit,           []),
    ("carrier_cancellation_is_not_a_scan",                             S.pre_transit,           S.cancelled,             S.pre_transit,       S.cancelled,             []),
    ("voided_label_sends_nothing",                                     S.pre_transit,           S.in_transit,            S.cancelled,         S.cancelled,             []),
    ("archived_shipment_sends_nothing",                                S.in_transit,            S.delayed,               S.archived,          S.archived,              []),
    ("deleted_shipment_sends_nothing",                                 S.out_for_delivery,      S.delivered,             S.deleted,           S.deleted,               []),
]
# fmt: on


@pytest.mark.parametrize(
    ("previous_parcel", "new_parcel", "previous_shipment", "new_shipment", "expected"),
    [rule[1:] for rule in RULES],
    ids=[rule[0] for rule in RULES],
)
def test_milestones_for_change(previous_parcel, new_parcel, previous_shipment, new_shipment, expected):
    assert milestones_for_change(previous_parcel, new_parcel, previous_shipment, new_shipment) == expected


PAST_PRE_TRANSIT = {
    S.in_transit,
    S.out_for_delivery,
    S.delayed,
    S.available_for_pickup,
    S.failed_attempt,
    S.delivered,
    S.exception,
    S.returned_to_sender,
}


@pytest.mark.parametrize("new_status", list(S))
def test_in_transit_is_reached_by_every_status_past_pre_transit_and_no_other(new_status):
    # The shipment stays pre_transit (another parcel waits), so only the first-scan rule speaks.
    reached = milestones_for_change(S.pre_transit, new_status, S.pre_transit, S.pre_transit)
    assert (M.in_transit in reached) == (new_status in PAST_PRE_TRANSIT)


def test_statuses_may_be_given_as_plain_strings():
    assert milestones_for_change("pre_transit", "delayed", "pre_transit", "delayed") == [
        M.in_transit,
        M.delayed,
    ]


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        milestones_for_change("pre_transit", "teleported", "pre_transit", "in_transit")


def test_ready_for_pickup_and_out_for_delivery_are_the_only_milestones_off_by_default():
    assert {m for m, on in DEFAULT_ENABLED.items() if not on} == {M.ready_for_pickup, M.out_for_delivery}
    assert set(DEFAULT_ENABLED) == set(Milestone)


def test_defaults_match_the_settings_model():
    assert NotificationSettings().model_dump() == {m.value: on for m, on in DEFAULT_ENABLED.items()}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({}, [M.ready_to_ship, M.in_transit, M.delayed, M.delivered], id="defaults"),
        pytest.param(
            NotificationSettings().model_dump(),
            [M.ready_to_ship, M.in_transit, M.delayed, M.delivered],
            id="settings_defaults",
        ),
        pytest.param(
            {"ready_for_pickup": True, "delayed": False},
            [M.ready_to_ship, M.in_transit, M.ready_for_pickup, M.delivered],
            id="merchant_choices",
        ),
        pytest.param(
            {"out_for_delivery": True},
            [M.ready_to_ship, M.in_transit, M.delayed, M.out_for_delivery, M.delivered],
            id="out_for_delivery_on",
        ),
        pytest.param({m.value: False for m in Milestone}, [], id="all_off"),
        pytest.param(
            {"unrelated": False}, [M.ready_to_ship, M.in_transit, M.delayed, M.delivered], id="unknown_keys_ignored"
        ),
    ],
)
def test_enabled_milestones(settings, expected):
    assert enabled_milestones(settings) == expected
