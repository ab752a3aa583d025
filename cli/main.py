"""`colis`: the operator CLI. Creates and lists merchants, API keys and carrier connections against
any endpoint (real AWS, or the local stack with `--local`) and prints what it did as JSON. A failure
is one line on stderr (exit 1), never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from shared.merchants.connections import CARRIERS

LOCAL_STATE_FILE = "local-stack.json"
# Any credentials do for the local stack's moto; these make boto3 stop looking for real ones.
_LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class CliError(Exception):
    """A failure the operator fixes: printed as one line."""


class _OneLineParser(argparse.ArgumentParser):
    """A usage mistake is one line too (argparse prints the whole usage above it); `--help` still
    shows everything. Subcommand parsers are of the same class (add_subparsers' default)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="colis", description=__doc__)
    parser.add_argument("--local", action="store_true",
                        help="work against the local stack: endpoint, table, secret prefix and usage plan from "
                             "its state file; no AWS credentials needed")
    parser.add_argument("--state-file", default=LOCAL_STATE_FILE,
                        help=f"the local stack's state file, for --local (default {LOCAL_STATE_FILE})")
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
    key.add_argument("--name", help="what the key is for (1-100 characters), shown by list-api-keys")
    key.add_argument("--scope", choices=("read", "write"), default="write",
                     help="read: the key's writes answer 403 (default: write)")

    commands.add_parser("list-merchants", help="list every merchant (id, name, created_at, tracking slug)")
    commands.add_parser("assign-tracking-slugs", help="give every merchant without a tracking slug a default one "
                                                      "(merchants created before slugs existed; idempotent)")

    search = commands.add_parser("index-search", help="write the search entries (q) of customers and orders, and "
                                                       "fold shipments' recipient names, for records written before "
                                                       "search existed (idempotent)")
    search.add_argument("--merchant", dest="merchant_id", help="only this merchant (default: every merchant)")

    listing = commands.add_parser("list-api-keys", help="list a merchant's API keys (never the key values)")
    listing.add_argument("merchant_id")

    revoke = commands.add_parser("revoke-api-key", help="revoke a merchant's API key at once")
    revoke.add_argument("merchant_id")
    revoke.add_argument("key_id")

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


def _apply_local_state(args: argparse.Namespace) -> None:
    """`--local`: what the local stack wrote in its state file, unless given explicitly."""
    path = Path(args.state_file)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{path} not found: start the local stack (make run) or pass --state-file") from None
    except (OSError, ValueError) as error:
        raise CliError(f"{path} cannot be read as the local stack's state ({type(error).__name__})") from None
    if not isinstance(state, dict) or not state.get("table_name") or not state.get("aws_endpoint_url"):
        raise CliError(f"{path} names no table_name and aws_endpoint_url: is it the local stack's state file?")
    args.table = args.table or state["table_name"]
    args.endpoint_url = args.endpoint_url or state["aws_endpoint_url"]
    args.secret_prefix = args.secret_prefix or state.get("connection_secret_prefix")
    args.usage_plan_id = args.usage_plan_id or state.get("usage_plan_id")
    for name, value in _LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)


def _configure(args: argparse.Namespace) -> None:
    if args.local:
        _apply_local_state(args)
    if not args.table:
        raise CliError("--table (or TABLE_NAME) is required; or --local for the local stack")
    os.environ["TABLE_NAME"] = args.table
    os.environ["AWS_DEFAULT_REGION"] = args.region
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.secret_prefix:
        os.environ["CONNECTION_SECRET_PREFIX"] = args.secret_prefix


def _run(args: argparse.Namespace) -> Any:
    from cli import operations

    commands: dict[str, Callable[[], Any]] = {
        "create-merchant": lambda: _create_merchant(args),
        "enrol-merchant": lambda: operations.enrol(args.merchant_id, _usage_plan(args)),
        "create-api-key": lambda: operations.create_api_key(args.merchant_id, args.name, args.scope),
        "list-merchants": operations.list_merchants,
        "assign-tracking-slugs": operations.assign_tracking_slugs,
        "index-search": lambda: operations.index_search(args.merchant_id),
        "list-api-keys": lambda: operations.list_api_keys(args.merchant_id),
        "revoke-api-key": lambda: operations.revoke_api_key(args.merchant_id, args.key_id),
        "set-fees": lambda: operations.set_fees(args.merchant_id, rate_percent=args.rate_percent, fixed=args.fixed,
                                                card_percent=args.card_percent),
        "create-connection": lambda: operations.create_connection(args.merchant_id, args.carrier, args.api_url,
                                                                  args.secret),
    }
    return commands[args.command]()


def _create_merchant(args: argparse.Namespace) -> dict[str, Any]:
    from cli import operations

    result = operations.create_merchant(args.name, args.usage_plan_id, args.tracking_slug)
    if not args.no_key:
        result["api_key"] = operations.create_api_key(result["merchant_id"])
    return result


def _usage_plan(args: argparse.Namespace) -> str:
    if not args.usage_plan_id:
        raise CliError("--usage-plan-id (or USAGE_PLAN_ID) is required")
    return str(args.usage_plan_id)


def _one_line(error: BaseException) -> str:
    """What went wrong, in one line the operator can act on (never a traceback, never a key)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    from shared.errors import DomainError

    if isinstance(error, CliError):
        return str(error)
    if isinstance(error, DomainError):
        return error.detail
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials found; use --local or configure credentials"
    if isinstance(error, NoRegionError):
        return "no AWS region; pass --region"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}: is the local stack running?"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "error")
        operation = getattr(error, "operation_name", "a call")
        if code == "ResourceNotFoundException":
            return f"{operation}: {code} (is --table the stack's table?)"
        return f"{operation}: {code}"
    return f"unexpected {type(error).__name__}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _configure(args)
        result = _run(args)
    except Exception as error:  # the CLI's edge: every failure becomes one line
        print(f"colis: {' '.join(_one_line(error).split())}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
