"""Customer milestones (DESIGN.md §1.2): which ones a tracking change reaches, which are on.

Pure rules only. Claiming a (shipment, milestone) so that at most one email goes out lives with
the sender: the rule below may name a milestone again on a later event, and that is expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from shared.shipments.statuses import MERCHANT_STATUSES, TrackingStatus


class Milestone(StrEnum):
    ready_to_ship = "ready_to_ship"
    in_transit = "in_transit"
    delayed = "delayed"
    ready_for_pickup = "ready_for_pickup"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"


# Settings `notifications` defaults (API.md, Settings).
DEFAULT_ENABLED: Mapping[Milestone, bool] = {
    Milestone.ready_to_ship: True,
    Milestone.in_transit: True,
    Milestone.delayed: True,
    Milestone.ready_for_pickup: False,
    Milestone.out_for_delivery: False,
    Milestone.delivered: True,
}

# A parcel that has never been scanned shows one of these.
NOT_YET_SCANNED: frozenset[TrackingStatus] = frozenset({TrackingStatus.pre_transit, TrackingStatus.unknown})

# Statuses only a carrier scan can produce: reaching one is "past pre_transit".
SCANNED: frozenset[TrackingStatus] = frozenset(
    {
        TrackingStatus.in_transit,
        TrackingStatus.out_for_delivery,
        TrackingStatus.delayed,
        TrackingStatus.available_for_pickup,
        TrackingStatus.failed_attempt,
        TrackingStatus.delivered,
        TrackingStatus.exception,
        TrackingStatus.returned_to_sender,
    }
)

# A parcel status that, once reached, is itself a milestone.
PARCEL_STATUS_MILESTONES: Mapping[TrackingStatus, Milestone] = {
    TrackingStatus.delayed: Milestone.delayed,
    TrackingStatus.available_for_pickup: Milestone.ready_for_pickup,
    TrackingStatus.out_for_delivery: Milestone.out_for_delivery,
}

# The merchant closed the shipment (voided label, archived, deleted): customers are not told
# about carrier news for it any more, even though its parcels' history still grows.
CLOSED_SHIPMENT: frozenset[TrackingStatus] = MERCHANT_STATUSES


def milestones_for_change(
    previous_parcel_status: TrackingStatus | str | None,
    new_parcel_status: TrackingStatus | str,
    previous_shipment_status: TrackingStatus | str | None,
    new_shipment_status: TrackingStatus | str,
) -> list[Milestone]:
    """Milestones reached by one `ShipmentTrackingUpdated` event, in `Milestone` order.

    A missing previous status (a parcel or shipment seen for the first time) counts as never
    scanned / not delivered.
    """
    parcel_before = _previous(previous_parcel_status)
    parcel_now = TrackingStatus(new_parcel_status)
    shipment_before = _previous(previous_shipment_status)
    shipment_now = TrackingStatus(new_shipment_status)
    if shipment_now in CLOSED_SHIPMENT:
        return []

    completes_delivery = shipment_now is TrackingStatus.delivered and shipment_before is not TrackingStatus.delivered
    first_scan = parcel_before in NOT_YET_SCANNED and parcel_now in SCANNED
    reached: set[Milestone] = set()
    if parcel_now in PARCEL_STATUS_MILESTONES:
        reached.add(PARCEL_STATUS_MILESTONES[parcel_now])
    if first_scan and shipment_now is not TrackingStatus.delivered:
        reached.add(Milestone.in_transit)
    if completes_delivery:
        reached.add(Milestone.delivered)
    return [milestone for milestone in Milestone if milestone in reached]


def enabled_milestones(settings_notifications: Mapping[str, bool]) -> list[Milestone]:
    """Milestones the merchant wants emailed; a milestone absent from settings uses its default."""
    return [
        milestone for milestone in Milestone if settings_notifications.get(milestone.value, DEFAULT_ENABLED[milestone])
    ]


def _previous(value: TrackingStatus | str | None) -> TrackingStatus:
    return TrackingStatus.pre_transit if value is None else TrackingStatus(value)
