"""The public tracking pages (no API key), HTML or JSON, always under a merchant's slug:
`GET /track/{tracking_slug}/{tracking_number}` and the lookup form `GET /track/{tracking_slug}`.
A former slug of a merchant answers 301 to the current one; there is no page without a slug."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.tracking import service
from functions.tracking.page import (
    TrackingPageMerchant,
    TrackingPageView,
    choose_page_language,
    prefers_json,
    render_lookup_page,
    render_not_found_page,
    render_tracking_page,
)
from shared.http.api import api_resolver, problem_response, public_base_url
from shared.merchants.model import Merchant
from shared.merchants.store import MerchantRepository
from shared.platform.observability import entrypoint
from shared.shipments.model import valid_tracking_number
from shared.shipments.store import ShipmentRepository

app = api_resolver()

HTML = "text/html; charset=utf-8"
# Carriers update a parcel every few hours at most: a minute of caching (browsers, a CDN) takes
# refresh storms off the table and still shows news within a minute. A 404 is cached briefly, as
# the shipment may be created any moment.
FOUND_CACHE = "public, max-age=60"
NOT_FOUND_CACHE = "public, max-age=10"
# A slug change is rare but not final: a day of caching for its redirect.
MOVED_CACHE = "public, max-age=86400"
# The answer depends on these request headers (JSON or HTML; its language).
VARY = "Accept, Accept-Language"
# The page loads nothing but the merchant's logo; it never tells the logo's host which parcel
# was looked at, and is never framed or indexed. The lookup form submits to this site only.
# `data:` images: the page's empty icon (`<link rel="icon" href="data:,">`), else the browser asks
# for /favicon.ico, which nothing serves (a 404 in every shopper's console).
_SECURITY = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}
_CSP = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action {form_action}")
PAGE_SECURITY = {"Content-Security-Policy": _CSP.format(form_action="'none'"), **_SECURITY}
FORM_SECURITY = {"Content-Security-Policy": _CSP.format(form_action="'self'"), **_SECURITY}
MAX_ECHOED_NUMBER = 64
LANG = Annotated[str | None, Query(description="Language of the page (en, fr, de, nl, es)")]
NOT_FOUND = {"description": "No such slug, or no parcel with this number at that merchant",
             "content": {"application/problem+json": {}, "text/html": {}}}
MOVED = {"description": "A former slug of the merchant: `Location` is the page under the current one"}


@app.get("/track/<tracking_slug>/<tracking_number>", tags=["Tracking"], summary="Public tracking page",
         description=("The parcel's public page at the merchant whose slug it is, in `?lang=`, else "
                      "the browser's language, else the recipient's. HTML, or JSON with `Accept: "
                      "application/json`. No API key."),
         responses={200: {"description": "The parcel (HTML, or JSON with `Accept: application/json`)",
                          "content": {"application/json": {"model": TrackingPageView}, "text/html": {}}},
                    301: MOVED, 404: NOT_FOUND})
def track(tracking_slug: str, tracking_number: str, lang: LANG = None) -> Response[Any]:
    # `lang` is a hint, never an error: anything unsupported falls back along the language chain.
    event = app.current_event
    accept_language = event.headers.get("accept-language")
    wants_json = prefers_json(event.headers.get("accept"))
    owner = service.slug_owner(MerchantRepository(), tracking_slug)
    if owner is None:
        return _not_found(tracking_number, wants_json, lang, accept_language)
    if not owner.current:
        return _moved(_page_path(owner.merchant, tracking_number), lang)
    page = service.tracking_page(ShipmentRepository(), owner.merchant, tracking_number, lang, accept_language)
    if page is None:
        return _not_found(tracking_number, wants_json, lang, accept_language)
    headers = {"Cache-Control": FOUND_CACHE, "Vary": VARY, "Content-Language": page.view.language}
    if wants_json:
        return Response(200, "application/json", page.view.model_dump_json(), headers)
    return Response(200, HTML, render_tracking_page(page), {**headers, **PAGE_SECURITY})


@app.get("/track/<tracking_slug>", tags=["Tracking"], summary="Tracking lookup form",
         description=("The merchant's lookup form: it sends `?tracking_number=` here, which answers "
                      "303 to the parcel's page. No API key."),
         responses={200: {"description": "The lookup form", "content": {"text/html": {}}},
                    301: MOVED, 303: {"description": "`Location` is the page of the number asked for"},
                    404: NOT_FOUND})
def lookup(tracking_slug: str, lang: LANG = None,
           tracking_number: Annotated[str | None, Query(max_length=128, description="The number to look up")] = None,
           ) -> Response[Any]:
    event = app.current_event
    accept_language = event.headers.get("accept-language")
    owner = service.slug_owner(MerchantRepository(), tracking_slug)
    if owner is None:
        return _not_found("", prefers_json(event.headers.get("accept")), lang, accept_language)
    number = _number_or_none(tracking_number)
    if number is not None:
        path = _page_path(owner.merchant, number)
        return Response(303, HTML, "", {"Location": _with_lang(public_base_url(app) + path, lang),
                                        "Cache-Control": "no-store"})
    if not owner.current:
        return _moved(f"/track/{quote(owner.merchant.settings.tracking_slug or '', safe='')}", lang)
    merchant = owner.merchant
    language = choose_page_language(lang, accept_language, merchant.settings.default_language)
    brand = TrackingPageMerchant.of_settings(merchant.name, merchant.settings)
    page = render_lookup_page(merchant.settings.tracking_slug or tracking_slug, brand, language)
    return Response(200, HTML, page, {"Cache-Control": FOUND_CACHE, "Vary": VARY, "Content-Language": language,
                                      **FORM_SECURITY})


def _number_or_none(tracking_number: str | None) -> str | None:
    if not tracking_number:
        return None
    try:
        return valid_tracking_number(tracking_number)
    except ValueError:
        return None  # the form again rather than an error page


def _page_path(merchant: Merchant, tracking_number: str) -> str:
    slug = merchant.settings.tracking_slug or ""
    return f"/track/{quote(slug, safe='')}/{quote(tracking_number, safe='')}"


def _with_lang(url: str, lang: str | None) -> str:
    return f"{url}?{urlencode({'lang': lang})}" if lang else url


def _moved(path: str, lang: str | None) -> Response[Any]:
    return Response(301, HTML, "", {"Location": _with_lang(public_base_url(app) + path, lang),
                                    "Cache-Control": MOVED_CACHE})


def _not_found(tracking_number: str, wants_json: bool, lang: str | None, accept_language: str | None) -> Response[Any]:
    headers = {"Cache-Control": NOT_FOUND_CACHE, "Vary": VARY}
    if wants_json:
        return problem_response(404, "Not Found", "This merchant has no parcel with this tracking number.",
                                headers=headers)
    language = choose_page_language(lang, accept_language, "en")
    page = render_not_found_page(tracking_number[:MAX_ECHOED_NUMBER], language)
    return Response(404, HTML, page, {**headers, **PAGE_SECURITY, "Content-Language": language})


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
