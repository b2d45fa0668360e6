"""Where things are in the repository, for tests in any folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
DEMO_DATA = REPO / "ingest" / "app" / "demo_data"
