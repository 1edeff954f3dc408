"""The settings gunicorn runs with in the pages benchmark: the product's, plus the baseline
routes (bench/baseline.py) and their template."""

from admissions.settings import *  # noqa: F403
from admissions.settings import TEMPLATES


ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]  # noqa: F405
