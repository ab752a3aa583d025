"""Settings, API keys and carrier connections of the calling merchant."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.account import service
from functions.account.service import ConnectionOut, CreatedConnection
from functions.account.settings_patch import SettingsPatch
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.http.api import api_resolver, json_response, merchant_id, public_base_url
from shared.merchants.api_keys import ApiKey, ApiKeyRepository, ApiKeyRequest, CreatedApiKey
from shared.merchants.connections import Carrier, ConnectionRepository, ConnectionSecret
from shared.merchants.model import Settings
from shared.merchants.store import MerchantRepository
from shared.platform.observability import entrypoint

app = api_resolver()


class ConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: Carrier
    secret: ConnectionSecret | None = Field(default=None, description="the carrier's webhook secret as it issued "
                                            "it (1-256 characters); generated, long and random, when omitted")


class ApiKeyList(BaseModel):
    items: list[ApiKey]
    next_cursor: str | None = None


class ConnectionList(BaseModel):
    items: list[ConnectionOut]
    next_cursor: str | None = None


@app.get("/v1/settings", tags=["Settings"], summary="Get the settings",
         description=("The merchant's brand, tracking slug, support contacts, languages, "
                      "notification switches and retention periods; `fees` is shown read-only (the "
                      "operator sets it)."))
def get_settings() -> Settings:
    return service.get_settings(MerchantRepository(), merchant_id(app))


@app.patch("/v1/settings", tags=["Settings"], summary="Update the settings",
           description=("Changes only the fields sent. A body carrying `fees` is refused (422): the "
                        "operator sets fees with `colis set-fees`."))
def patch_settings(patch: SettingsPatch) -> Settings:
    return service.update_settings(MerchantRepository(), merchant_id(app), patch)


@app.post("/v1/api-keys", tags=["API keys"], summary="Create an API key",
          description=("Issues a new key for this merchant, named as asked, with the `write` scope "
                       "(the default) or `read` (its writes answer 403). The key itself is in this "
                       "answer only, so store it now. The body may be left out."),
          responses={201: {"description": "Created; the key is shown once",
                           "content": {"application/json": {"model": CreatedApiKey}}}})
def create_api_key(body: Annotated[ApiKeyRequest | None, Body()] = None) -> Response[CreatedApiKey]:
    return json_response(201, service.create_api_key(ApiKeyRepository(), merchant_id(app), body))


@app.get("/v1/api-keys", tags=["API keys"], summary="List the API keys",
         description=("Every key of the merchant with its name, scope and `last_used_at` (to within "
                      "a minute), without the key values (they are shown once, at creation)."))
def list_api_keys(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ApiKeyList:
    items, next_cursor = service.list_api_keys(ApiKeyRepository(), merchant_id(app), limit, cursor)
    return ApiKeyList(items=items, next_cursor=next_cursor)


@app.delete("/v1/api-keys/<key_id>", tags=["API keys"], summary="Revoke an API key",
            description="The key stops working at once; requests made with it answer 401.",
            responses={204: {"description": "Revoked"}})
def revoke_api_key(key_id: str) -> Response[None]:
    service.revoke_api_key(ApiKeyRepository(), merchant_id(app), key_id)
    return Response(status_code=204)


@app.post("/v1/connections", tags=["Connections"], summary="Connect a carrier",
          description=("Creates the webhook URL to give the carrier, with the secret it signs "
                       "deliveries with (generated when none is sent; shown once)."),
          responses={201: {"description": "Created; the secret is shown once",
                           "content": {"application/json": {"model": CreatedConnection}}}})
def create_connection(body: ConnectionRequest) -> Response[CreatedConnection]:
    created = service.create_connection(ConnectionRepository(), merchant_id(app), body.carrier, body.secret,
                                        public_base_url(app))
    return json_response(201, created)


@app.get("/v1/connections", tags=["Connections"], summary="List the carrier connections",
         description="Each connection's carrier and webhook URL (never its secret).")
def list_connections(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ConnectionList:
    items, next_cursor = service.list_connections(ConnectionRepository(), merchant_id(app), public_base_url(app),
                                                  limit, cursor)
    return ConnectionList(items=items, next_cursor=next_cursor)


@app.delete("/v1/connections/<connection_id>", tags=["Connections"], summary="Delete a carrier connection",
            description="Its webhook URL answers 404 from now on.",
            responses={204: {"description": "Deleted"}})
def delete_connection(connection_id: str) -> Response[None]:
    service.delete_connection(ConnectionRepository(), merchant_id(app), connection_id)
    return Response(status_code=204)


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
