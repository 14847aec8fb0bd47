"""Where the tests find real Wikipedia samples: ../shared/data/real beside the repository."""

from __future__ import annotations

from core.config import REPO_ROOT

SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "real"
