"""The FastAPI app under test for uvicorn, no instrumentation: tests/apps/fastapi_app.py
(async `GET /test/` -> 200 "rest", the route the gunicorn figures use) without copying it."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "apps"))

from fastapi_app import app  # noqa: E402

application = app
