"""`colis`: the operator CLI. Creates merchants, API keys and carrier connections against any
endpoint (real AWS, or the local stack with `--endpoint-url`) and prints what it created as JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from shared.merchants.connections import CARRIERS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colis", description=__doc__)
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME"), help="DynamoDB table (env TABLE_NAME)")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="AWS endpoint, e.g. http://127.0.0.1:5000 for the local stack")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"))
    parser.add_argument("--secret-prefix", default=os.environ.get("CONNECTION_SECRET_PREFIX"),
                        help="SSM path of connection secrets, e.g. /colis/prod/connections/")
    parser.add_argument("--usage-plan-id", default=os.environ.get("USAGE_PLAN_ID"),
                        help="the stack's UsagePlanId output (env USAGE_PLAN_ID): merchants are enrolled in it")
    commands = parser.add_subparsers(dest="command", required=True)

    merchant = commands.add_parser("create-merchant", help="create a merchant (and its first API key)")
    merchant.add_argument("name")
    merchant.add_argument("--tracking-slug", help="its public tracking slug (3-40 of a-z 0-9 -); default: "
                                                   "made from the name")
    merchant.add_argument("--no-key", action="store_true", help="do not create an API key")

    enrol = commands.add_parser("enrol-merchant", help="enrol an existing merchant in the usage plan")
    enrol.add_argument("merchant_id")

    key = commands.add_parser("create-api-key", help="create an API key for a merchant")
    key.add_argument("merchant_id")

    connection = commands.add_parser("create-connection", help="create a carrier connection")
    connection.add_argument("merchant_id")
    connection.add_argument("carrier", choices=CARRIERS)
    connection.add_argument("--api-url", required=True, help="public base URL of the API (for the webhook URL)")
    connection.add_argument("--secret", help="the carrier's webhook secret (generated when omitted)")

    fees = commands.add_parser("set-fees", help="set a merchant's Colis fee terms (read-only for merchants)")
    fees.add_argument("merchant_id")
    fees.add_argument("--rate-percent", required=True, help="percent of the order total, e.g. 5.0")
    fees.add_argument("--fixed", required=True, help="fixed part in the checkout currency, e.g. 0.30")
    fees.add_argument("--card-percent", required=True, help="card-processing part, percent of the total, e.g. 2.9")
    return parser


def _configure(args: argparse.Namespace) -> None:
    if not args.table:
        raise SystemExit("colis: --table (or TABLE_NAME) is required")
    os.environ["TABLE_NAME"] = args.table
    os.environ["AWS_DEFAULT_REGION"] = args.region
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.secret_prefix:
        os.environ["CONNECTION_SECRET_PREFIX"] = args.secret_prefix


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure(args)
    from cli import operations
    from shared.errors import DomainError

    try:
        if args.command == "create-merchant":
            result = operations.create_merchant(args.name, args.usage_plan_id, args.tracking_slug)
            if not args.no_key:
                result["api_key"] = operations.create_api_key(result["merchant_id"])
        elif args.command == "enrol-merchant":
            if not args.usage_plan_id:
                raise SystemExit("colis: --usage-plan-id (or USAGE_PLAN_ID) is required")
            result = operations.enrol(args.merchant_id, args.usage_plan_id)
        elif args.command == "create-api-key":
            result = operations.create_api_key(args.merchant_id)
        elif args.command == "set-fees":
            result = operations.set_fees(args.merchant_id, rate_percent=args.rate_percent, fixed=args.fixed,
                                         card_percent=args.card_percent)
        else:
            result = operations.create_connection(args.merchant_id, args.carrier, args.api_url, args.secret)
    except DomainError as error:
        print(f"colis: {error.detail}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
