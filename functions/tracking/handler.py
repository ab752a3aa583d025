"""`GET /track/{tracking_number}`: the public tracking page (no API key), HTML or JSON."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.tracking import service
from functions.tracking.page import (
    TrackingPageView,
    choose_page_language,
    prefers_json,
    render_not_found_page,
    render_tracking_page,
)
from shared.http.api import api_resolver, problem_response
from shared.merchants.store import MerchantRepository
from shared.platform.observability import entrypoint
from shared.shipments.store import ShipmentRepository

app = api_resolver()

HTML = "text/html; charset=utf-8"
# Carriers update a parcel every few hours at most: a minute of caching (browsers, a CDN) takes
# refresh storms off the table and still shows news within a minute. A 404 is cached briefly, as
# the shipment may be created any moment.
FOUND_CACHE = "public, max-age=60"
NOT_FOUND_CACHE = "public, max-age=10"
# The answer depends on these request headers (JSON or HTML; its language).
VARY = "Accept, Accept-Language"
# The page loads nothing but the merchant's logo; it never tells the logo's host which parcel
# was looked at, and is never framed or indexed.
PAGE_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; img-src https: http:; style-src 'unsafe-inline'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}
MAX_ECHOED_NUMBER = 64


@app.get("/track/<tracking_number>",
         description="The parcel's public page, in `?lang=`, else the browser's language, else the recipient's.",
         responses={200: {"description": "The parcel (HTML, or JSON with `Accept: application/json`)",
                          "content": {"application/json": {"model": TrackingPageView}, "text/html": {}}},
                    404: {"description": "No parcel has this tracking number",
                          "content": {"application/problem+json": {}, "text/html": {}}}})
def track(tracking_number: str,
          lang: Annotated[str | None, Query(description="Language of the page (en, fr, de, nl, es)")] = None,
          ) -> Response[Any]:
    # `lang` is a hint, never an error: anything unsupported falls back along the language chain.
    event = app.current_event
    accept_language = event.headers.get("accept-language")
    wants_json = prefers_json(event.headers.get("accept"))
    view = service.tracking_view(ShipmentRepository(), MerchantRepository(), tracking_number, lang, accept_language)
    if view is None:
        return _not_found(tracking_number, wants_json, lang, accept_language)
    headers = {"Cache-Control": FOUND_CACHE, "Vary": VARY, "Content-Language": view.language}
    if wants_json:
        return Response(200, "application/json", view.model_dump_json(), headers)
    return Response(200, HTML, render_tracking_page(view, view.language), {**headers, **PAGE_SECURITY})


def _not_found(tracking_number: str, wants_json: bool, lang: str | None, accept_language: str | None) -> Response[Any]:
    headers = {"Cache-Control": NOT_FOUND_CACHE, "Vary": VARY}
    if wants_json:
        return problem_response(404, "Not Found", "No parcel has this tracking number.", headers=headers)
    language = choose_page_language(lang, accept_language, "en")
    page = render_not_found_page(tracking_number[:MAX_ECHOED_NUMBER], language)
    return Response(404, HTML, page, {**headers, **PAGE_SECURITY, "Content-Language": language})


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

