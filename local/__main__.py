"""`python -m local` (what `make run` runs): the local stack in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from local.docs import DOCS_PATH, DOCUMENT_PATH
from local.stack import start_stack


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--api-port", type=int, default=3000, help="HTTP port of the API (0: any free port)")
    parser.add_argument("--moto-port", type=int, default=5000, help="port of moto server (0: any free port)")
    parser.add_argument("--state-file", default="local-stack.json", help="written once the stack is ready")
    parser.add_argument("--template", default="template.yaml", help="SAM template to run")
    return parser.parse_args(argv)


def _banner(state: dict[str, Any]) -> str:
    lines = [f"Colis local stack ready: API {state['api_url']}  (AWS endpoint {state['aws_endpoint_url']})"]
    if state.get("api_key"):
        lines.append(f"  demo merchant {state['merchant_id']}  Authorization: Bearer {state['api_key']}")
        for carrier, webhook in state.get("webhooks", {}).items():
            lines.append(f"  webhook {carrier:<9} {webhook['url']}")
        second = state.get("second_merchant") or {}
        lines.append(f"  second merchant {second.get('merchant_id')}  Bearer {second.get('api_key')}")
    lines.append(f"  API docs (Swagger UI) {state['api_url']}{DOCS_PATH}  (OpenAPI: {state['api_url']}{DOCUMENT_PATH})")
    lines.append("  local routes: /_local/clock, /_local/schedules, /_local/outbox  (Ctrl-C stops)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = start_stack(arguments.template, arguments.api_port, arguments.moto_port, arguments.state_file)
    try:
        print(_banner(stack.state), flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
