"""Exports API: request an export (202), follow the job, download its file (302 to a fresh link)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.export import service
from functions.export.files import ExportFiles
from functions.export.service import Export
from shared.customers.store import CustomerRepository
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.exports.model import LINK_DEFAULT_SECONDS, LINK_MAX_SECONDS, ExportRequest
from shared.exports.store import ExportRepository
from shared.http.api import api_resolver, json_response, merchant_id
from shared.platform.observability import entrypoint

app = api_resolver()

LinkSeconds = Annotated[int, Query(ge=1, le=LINK_MAX_SECONDS,
                                   description="lifetime of the download link in seconds (at most 3600)")]


@app.post("/v1/exports", tags=["Exports"], summary="Start an export",
          description=("Shipments (CSV or XLSX, with filters), the customer list (CSV), or one "
                       "customer's data (JSON or CSV). It runs in the background: poll `GET "
                       "/v1/exports/{id}`."),
          responses={202: {"description": "Accepted: the export runs in the background",
                           "content": {"application/json": {"model": Export}}}})
def create_export(body: Annotated[ExportRequest, Body()]) -> Response[Export]:
    export = service.request_export(ExportRepository(), CustomerRepository(), merchant_id(app), body)
    return json_response(202, export, headers={"Location": f"/v1/exports/{export.id}"})


class ExportList(BaseModel):
    items: list[Export]
    next_cursor: str | None


@app.get("/v1/exports", tags=["Exports"], summary="List exports",
         description=("The merchant's exports, newest first, each as `GET /v1/exports/{id}` answers "
                      "it (a ready one with a fresh `download_url`); paged with `limit` and `cursor`."))
def list_exports(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                 cursor: Annotated[str | None, Query(max_length=2048)] = None,
                 expires_in: LinkSeconds = LINK_DEFAULT_SECONDS) -> ExportList:
    items, next_cursor = service.list_exports(ExportRepository(), ExportFiles(), merchant_id(app), limit=limit,
                                              cursor=cursor, link_seconds=expires_in)
    return ExportList(items=items, next_cursor=next_cursor)


@app.get("/v1/exports/<export_id>", tags=["Exports"], summary="Get an export",
         description=("Its status, rows written, and once ready a presigned `download_url` valid "
                      "`expires_in` seconds."))
def get_export(export_id: str, expires_in: LinkSeconds = LINK_DEFAULT_SECONDS) -> Export:
    return service.show_export(ExportRepository(), ExportFiles(), merchant_id(app), export_id, expires_in)


@app.get("/v1/exports/<export_id>/download", tags=["Exports"], summary="Download an export",
         description=("Redirects (302) to a fresh presigned link to the file; 409 while the export is "
                      "not ready; 410 once the file has expired."),
         responses={302: {"description": "Found: a fresh presigned link"},
                    409: {"description": "The export is not ready (pending, running or failed)"},
                    410: {"description": "Gone: the file has expired"}})
def download_export(export_id: str, expires_in: LinkSeconds = LINK_DEFAULT_SECONDS) -> Response[None]:
    link = service.download_link(ExportRepository(), ExportFiles(), merchant_id(app), export_id, expires_in)
    return Response(status_code=302, headers={"Location": link.url, "Cache-Control": "no-store"})


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
