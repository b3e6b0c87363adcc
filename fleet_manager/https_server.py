"""The uvicorn settings both HTTPS processes (the fleet API and the landing page) run with.

No access log (it would record kiosks' and visitors' addresses), uvicorn's own loggers at
warning level only (their messages name no client; ours are structured JSON), no Server or
Date header. Anything else (the landing page turns proxy headers off) is passed in ``more``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn

from fleet_manager.config import ListenAddress


def quiet_https_server(
    app: Any, listen: ListenAddress, tls_cert: Path, tls_key: Path, **more: Any
) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=listen.host,
            port=listen.port,
            ssl_certfile=str(tls_cert),
            ssl_keyfile=str(tls_key),
            access_log=False,
            log_config=None,
            log_level="warning",
            server_header=False,
            date_header=False,
            **more,
        )
    )
