"""Shared by the benchmark's app variants: import the Flask app under test
from tests/apps/flask_app.py without copying it."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "apps"))

from flask_app import app  # noqa: E402,F401
