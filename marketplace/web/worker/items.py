"""Item data for server-rendered pages (exams, training): its text, its picture and the rest."""

from __future__ import annotations

import json
from typing import Any

# Item data keys shown as the item's text and picture; every other key goes in a table.
TEXT_KEYS = ("text",)
IMAGE_KEYS = ("image", "image_url")


def item_parts(data: Any) -> dict[str, Any]:
    """Split item data for a template: text, an http(s) picture URL, and the rest as rows.

    A picture "URL" of any other scheme (javascript:, data:...) is shown as text, never as a src.
    """
    if not isinstance(data, dict):
        return {"text": json.dumps(data, ensure_ascii=False), "image": None, "fields": []}
    text = next((data[k] for k in TEXT_KEYS if isinstance(data.get(k), str)), None)
    image = next((data[k] for k in IMAGE_KEYS if isinstance(data.get(k), str)), None)
    safe_image = image if image and image.strip().lower().startswith(("http://", "https://")) else None
    fields = [
        (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in data.items()
        if not (key in TEXT_KEYS and value == text) and not (key in IMAGE_KEYS and value == safe_image)
    ]
    return {"text": text, "image": safe_image, "fields": fields}
