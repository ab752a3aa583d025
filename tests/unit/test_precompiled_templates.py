"""The templates compiled to Python (`cli/templates.py`) write what Jinja writes: each committed
module is the compiler's output for its templates, and every page and email the functions render
comes out character for character as Jinja renders the same template with the same context."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli import templates
from functions.notify import email_templates
from functions.notify.brand import Brand
from functions.notify.milestones import Milestone
from functions.notify.rendering import (
    CancellationEmailContext,
    MilestoneEmailContext,
    ParcelLink,
    SupportContact,
    render_cancellation_email,
    render_milestone_email,
)
from functions.notify.texts import SUPPORTED_LANGUAGES
from functions.tracking import page_templates
from functions.tracking.page import (
    ParcelLine,
    TrackingPage,
    TrackingPageMerchant,
    TrackingPageView,
    render_lookup_page,
    render_not_found_page,
    render_tracking_page,
)
from shared.shipments.statuses import TrackingStatus

BRANDS = [
    {"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a"},
    {"name": "<b>Bad & \"Co\"</b> 'x'", "logo_url": "https://cdn.example.com/logo.png?a=1&b=2", "color": "#fff"},
    {"name": "Sans logo", "logo_url": "javascript:alert(1)", "color": "red"},
]

SUPPORT = SupportContact(email="help@shop.example", url="https://shop.example/help?a=1&b=<2>")


@pytest.fixture
def rendered(monkeypatch):
    """(template folder, template name, compiled output, context) of every compiled render in the test."""
    calls: list[tuple[Path, str, str, dict]] = []
    for target in templates.MODULES:
        module = email_templates if target.module.name == "email_templates.py" else page_templates
        for name in templates.environment(target.templates).list_templates():
            function = getattr(module, templates.function_name(name))

            def recording(context, function=function, name=name, folder=target.templates):
                out = function(context)
                calls.append((folder, name, out, dict(context)))
                return out

            monkeypatch.setattr(module, templates.function_name(name), recording)
    return calls


def assert_jinja_agrees(calls):
    assert calls
    for folder, name, out, context in calls:
        assert templates.environment(folder).get_template(name).render(context) == out, name


@pytest.mark.parametrize("target", templates.MODULES, ids=lambda target: target.module.name)
def test_the_committed_module_is_the_compilers_output(target):
    assert target.module.read_text(encoding="utf-8") == templates.generate(target), \
        "run: python -m cli.templates --write"


@pytest.mark.parametrize("brand", BRANDS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_tracking_pages_are_jinjas(rendered, language, brand):
    events = [{"status": status.value, "occurred_at": f"2025-03-{10 + i:02d}T0{i}:30:00Z",
               "location": "Lyon <FR>" if i % 2 else None, "description": "Scanned & sorted"}
              for i, status in enumerate(list(TrackingStatus)[:6])]
    parcels = [ParcelLine("JJD0001", TrackingStatus.out_for_delivery, "https://dhl.example/t?a=1&b=<2>", None, True),
               ParcelLine("JJD0002", TrackingStatus.delivered, None, "https://api.colis.test/track/s/JJD0002"),
               ParcelLine("JJD<3>", TrackingStatus.delayed, "https://dhl.example/t?n=3", None)]
    for overrides, lines in (({"events": events, "estimated_delivery": "2025-03-14"}, parcels),
                             ({"events": [], "parcel_count": 1}, parcels[:1])):
        view = TrackingPageView.model_validate({
            "tracking_number": "JJD0001", "carrier": "dhl", "carrier_name": "DHL <Express>",
            "carrier_url": "https://dhl.example/t?a=1&b=<2>" if overrides.get("events") else None,
            "status": "out_for_delivery",
            "shipment_status": "in_transit", "parcel_count": 3, "merchant": brand, "language": language,
            **overrides})
        render_tracking_page(TrackingPage(view=view, zone=ZoneInfo("America/St_Johns"), parcels=lines))
    render_not_found_page("<script>alert('x')</script>&", language)
    render_lookup_page("maison-lune", TrackingPageMerchant.model_validate(brand), language)
    assert_jinja_agrees(rendered)


@pytest.mark.parametrize("brand", BRANDS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_emails_are_jinjas(rendered, language, brand):
    for milestone in Milestone:
        for first_name, estimated, count, order, support in (
                ("Zoé <3", date(2025, 3, 14), 2, "#1001 <b>", SUPPORT), (None, None, 1, None, SupportContact())):
            parcels = [ParcelLink(tracking_number=f"JJD{i}", url=f"https://t.example/x?a={i}&b=2") for i in range(count)]
            render_milestone_email(milestone, language, MilestoneEmailContext(
                brand=Brand(**brand), carrier="DHL & Co", parcels=parcels, tracking_url="https://t.example/x?a=1&b=2",
                order_number=order, support=support, recipient_first_name=first_name,
                occurred_at=datetime(2025, 3, 12, 14, 5, tzinfo=UTC), estimated_delivery=estimated))
    render_cancellation_email(language, CancellationEmailContext(
        brand=Brand(**brand), order_number="#1001 <b>", reason="Out of stock & gone", refund_total=Decimal("12.50"),
        currency="EUR", recipient_first_name="Zoé", cancelled_at=datetime(2025, 3, 12, 9, tzinfo=UTC),
        support=SUPPORT))
    render_cancellation_email(language, CancellationEmailContext(brand=Brand(**brand)))
    assert_jinja_agrees(rendered)


@pytest.mark.parametrize(
    "source",
    ["{{ name | upper }}", "{% for x in xs %}{{ loop.index }}{% endfor %}", "{% set a = 1 %}",
     "{% for x in xs %}{% else %}none{% endfor %}", "{{ a[0] }}", "{% for x in xs %}{% endfor %}{{ x }}",
     "{% macro m() %}{% endmacro %}", "{{ a + b }}"],
)
def test_what_the_compiler_does_not_support_fails_the_compilation(tmp_path: Path, source):
    (tmp_path / "page.html").write_text(source)
    with pytest.raises(templates.Unsupported):
        templates.compile_template(templates.environment(tmp_path), "page.html")
