"""Customers API: records, tags, merges, duplicate candidates, the import template and CSV imports."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.customers import service
from functions.customers.csv_rows import template_csv
from functions.customers.requests import CustomerIn, CustomerPatch, Tags
from functions.customers.service import DuplicateGroup, ImportOut, ImportSummary
from shared.customers.imports import CustomerImportRepository
from shared.customers.model import Customer
from shared.customers.store import CustomerRepository
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.errors import Invalid, Malformed, NotSupported, WrongContentType
from shared.http.api import api_resolver, json_response, merchant_id, request_body_bytes
from shared.http.bodies import load_json
from shared.platform import aws
from shared.platform.observability import entrypoint
from shared.platform.settings import settings
from shared.values.search_terms import MAX_QUERY_LENGTH, MIN_QUERY_LENGTH, QUERY_PATTERN

QUERY_DESCRIPTION = ("Name, email or username, or their beginning; case and accents ignored; several words: "
                     "each must match.")

IMPORTS_PATH = "/v1/customer-imports"
# API.md: "customer CSV: 4 MB" — decimal megabytes, 4,000,000 bytes of file (after any base64).
MAX_INLINE_CSV_BYTES = 4_000_000
INLINE_RELINK_SECONDS = 8.0  # the rest of a big merge's relinking is done by the CustomerMerged worker
app = api_resolver(body_limits={IMPORTS_PATH: MAX_INLINE_CSV_BYTES})


class CustomerList(BaseModel):
    items: list[Customer]
    next_cursor: str | None


class TagsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: Tags


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    absorb: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=50)


class DuplicateList(BaseModel):
    groups: list[DuplicateGroup]
    next_cursor: str | None = None


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upload: Literal[True]


def _orders() -> Any:
    from shared.orders.store import OrderRepository  # imported on use: only merges need the orders

    return OrderRepository()


def _s3() -> Any:
    return aws.client("s3")


# Static paths first: `/v1/customers/<customer_id>` would match them too.
@app.get("/v1/customers/duplicates", tags=["Customers"], summary="List duplicate candidates",
         description="Groups of customers sharing a normalised address, to review and merge.")
def duplicates(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
               cursor: Annotated[str | None, Query(max_length=2048)] = None) -> DuplicateList:
    groups, next_cursor = service.duplicate_groups(CustomerRepository(), merchant_id(app), limit=limit, cursor=cursor)
    return DuplicateList(groups=groups, next_cursor=next_cursor)


@app.get("/v1/customers/import-template", tags=["Customer imports"], summary="Download the import template",
         description=("The CSV header the import reads and one sample row (valid as it is), as "
                      "`CustomerImportSample.csv`: UTF-8 with BOM, CRLF, comma-separated."),
         responses={200: {"description": "CustomerImportSample.csv",
                          "content": {"text/csv": {}}}})
def import_template() -> Response[bytes]:
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=template_csv().decode("utf-8"),
                    headers={"Content-Disposition": 'attachment; filename="CustomerImportSample.csv"'})


@app.post("/v1/customers", tags=["Customers"], summary="Create a customer",
          description=("A customer needs a username or an email (or both); a username or email "
                       "another customer of the merchant has is refused (409)."),
          responses={201: {"description": "Created",
                           "content": {"application/json": {"model": Customer}}}})
def create_customer(body: CustomerIn) -> Response[Customer]:
    return json_response(201, service.create_customer(CustomerRepository(), merchant_id(app), body))


@app.get("/v1/customers", tags=["Customers"], summary="List customers",
         description=("Newest first, filtered by exact `username`, `email` or `tag`; paged with "
                      "`limit` and `cursor`. `q` searches names, emails and usernames, ignoring case "
                      "and accents (`lea` finds Léa, `muller` finds Müller): every word of `q` must "
                      "begin a word of the name, the email or the username; the list is then in the "
                      "order of the word matched. The other filters apply too."))
def list_customers(username: Annotated[str | None, Query(max_length=200)] = None,
                   email: Annotated[str | None, Query(max_length=254)] = None,
                   tag: Annotated[str | None, Query(max_length=100)] = None,
                   q: Annotated[str | None, Query(min_length=MIN_QUERY_LENGTH, max_length=MAX_QUERY_LENGTH,
                                                  pattern=QUERY_PATTERN, description=QUERY_DESCRIPTION)] = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                   cursor: Annotated[str | None, Query(max_length=2048)] = None) -> CustomerList:
    items, next_cursor = service.list_customers(CustomerRepository(), merchant_id(app), username=username,
                                                email=email, tag=tag, limit=limit, cursor=cursor, q=q)
    return CustomerList(items=items, next_cursor=next_cursor)


@app.get("/v1/customers/<customer_id>", tags=["Customers"], summary="Get a customer",
         description="A customer absorbed by a merge answers with the customer it was merged into.")
def get_customer(customer_id: str) -> Customer:
    return service.get_customer(CustomerRepository(), merchant_id(app), customer_id)


@app.patch("/v1/customers/<customer_id>", tags=["Customers"], summary="Update a customer",
           description="Changes only the fields sent; `null` clears an optional field.")
def patch_customer(customer_id: str, patch: CustomerPatch) -> Customer:
    return service.patch_customer(CustomerRepository(), merchant_id(app), customer_id, patch)


@app.delete("/v1/customers/<customer_id>", tags=["Customers"], summary="Delete a customer (not allowed)",
            description=("Customers are never deleted (405): merge duplicates, or erase a customer's"
                         " personal data with `POST /v1/customers/{id}/erase`."),
            responses={405: {"description": "Customers are never deleted"}})
def delete_customer(customer_id: str) -> Customer:
    raise NotSupported("Customers cannot be deleted or deactivated; merge duplicates instead, or erase "
                           "a customer's personal data with POST /v1/customers/{id}/erase.",
                           headers={"Allow": "GET, PATCH"})


@app.put("/v1/customers/<customer_id>/tags", tags=["Customers"], summary="Replace a customer's tags",
         description="The customer's tags become exactly the list sent.")
def set_tags(customer_id: str, body: TagsBody) -> Customer:
    return service.set_tags(CustomerRepository(), merchant_id(app), customer_id, body.tags)


@app.post("/v1/customers/<customer_id>/merge", tags=["Customers"], summary="Merge customers",
          description=("The customers listed in `absorb` are merged into this one: their orders move"
                       " to it, and their ids answer with it from now on."))
def merge(customer_id: str, body: MergeBody) -> Customer:
    budget = min(INLINE_RELINK_SECONDS, max(0.0, app.lambda_context.get_remaining_time_in_millis() / 1000 - 10))
    return service.merge(CustomerRepository(), _orders(), merchant_id(app), customer_id, body.absorb,
                         relink_seconds=budget)


@app.post(IMPORTS_PATH, tags=["Customer imports"], summary="Import customers from CSV",
          description=("Send the CSV file itself (`text/csv`, at most 4,000,000 bytes), or "
                       "`{\"upload\": true}` (JSON) for a presigned URL to upload a larger file to. "
                       "The import runs in the background: poll `GET /v1/customer-imports/{id}`.\n\n"
                       "The file: UTF-8 (with or without BOM) or UTF-16 with its BOM; other encodings are "
                       "refused (400); "
                       "delimiter `,`, `;` or tab, detected on the header line; columns matched by name "
                       "in any order, ignoring case, spaces and underscores; every template column "
                       "required; the customer list export's extra columns (`Customer ID`, `Store`, "
                       "`Created At`, `Erased At`) and `reason` ignored; any other column refused (400). "
                       "`tags=merge` (default) adds the row's tags to the customer's, `tags=replace` "
                       "makes them the row's. A row that would change nothing counts as `unchanged`; "
                       "an erased customer is never changed or recreated. Postal codes that look cut "
                       "(leading zeros lost) are imported as written, with a warning."),
          responses={202: {"description": "Accepted", "content": {"application/json": {"model": ImportOut}}}})
def start_import(blank_cells: Annotated[Literal["keep", "clear"], Query()] = "keep",
                 tags: Annotated[Literal["merge", "replace"], Query()] = "merge") -> Response[ImportOut]:
    """`text/csv` body (at most 4,000,000 bytes), or `{"upload": true}` for a presigned upload URL."""
    merchant = merchant_id(app)
    body = request_body_bytes(app.current_event.raw_event)
    content_type = (app.current_event.headers.get("content-type") or app.current_event.headers.get("Content-Type")
                    or "").split(";")[0].strip().lower()
    imports, bucket = CustomerImportRepository(), settings().import_bucket
    if content_type in ("text/csv", "application/csv", "text/plain"):
        job = service.start_inline_import(imports, _s3(), bucket, merchant, body, blank_cells, tags)
        report = service.import_report(imports, merchant, job.id)
    elif content_type == "application/json" or not content_type:
        _upload_request(body)
        job, url = service.start_upload_import(imports, aws.presigner(), bucket, merchant, blank_cells, tags)
        report = service.import_report(imports, merchant, job.id).model_copy(update={"upload_url": url})
    else:
        raise WrongContentType("Send the file as text/csv, or {\"upload\": true} as application/json.")
    return json_response(202, report)


class ImportList(BaseModel):
    items: list[ImportSummary]
    next_cursor: str | None


@app.get(IMPORTS_PATH, tags=["Customer imports"], summary="List customer imports",
         description=("The merchant's imports, newest first, with their status and counts (each "
                      "import's rejected rows are in its report); paged with `limit` and `cursor`."))
def list_imports(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                 cursor: Annotated[str | None, Query(max_length=2048)] = None) -> ImportList:
    items, next_cursor = service.list_imports(CustomerImportRepository(), merchant_id(app), limit=limit, cursor=cursor)
    return ImportList(items=items, next_cursor=next_cursor)


@app.get(IMPORTS_PATH + "/<import_id>", tags=["Customer imports"], summary="Get an import's report",
         description=("Its status and counts, every skipped or invalid row with the reason (the "
                      "header is row 1), the warnings per row, and `errors_url`: the rejected rows as "
                      "CSV (the file's delimiter and columns plus `reason`), to fix and import again."))
def get_import(import_id: str) -> ImportOut:
    return service.import_report(CustomerImportRepository(), merchant_id(app), import_id, aws.presigner(),
                                 settings().import_bucket)


def _upload_request(body: bytes) -> None:
    try:
        UploadRequest.model_validate(load_json(body or b"null"))
    except json.JSONDecodeError as error:
        raise Malformed("The request body is not valid JSON.") from error
    except ValidationError as error:
        raise Invalid("Send {\"upload\": true} for an upload URL, or the CSV file itself as text/csv.",
                               errors=[{"field": ".".join(str(p) for p in e["loc"]) or "body", "type": e["type"],
                                        "message": e["msg"]} for e in error.errors(include_input=False)]) from error


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
