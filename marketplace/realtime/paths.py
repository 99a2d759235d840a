"""Each role's live-update socket, as the pages write it: routing.py routes these, and the pages
(web/access.py, the `socket_path` template tag) read them here, so a page and its route cannot
drift apart. No imports: the pages take it without loading Channels."""

from __future__ import annotations

SOCKET_PATHS: dict[str, str] = {"client": "/ws/client/", "worker": "/ws/worker/", "staff": "/ws/staff/"}
