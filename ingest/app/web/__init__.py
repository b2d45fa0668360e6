"""The clerk's web console (contract §9): Starlette + Jinja2, served by uvicorn.

:func:`create_app` builds the ASGI app for one config; :mod:`.server` runs it.
Every page and JSON endpoint reads the database per request and calls the same
library functions as the CLI (``ingest.store.clerk``, ``reports``).
"""

from ingest.app.web.app import create_app

__all__ = ["create_app"]
