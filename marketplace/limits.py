"""Every limit on what a person can type or upload, in one place (the README's limits table).

Pure constants: importers, parsers, services and forms read them from here, so one value holds
in every format and every door (API, portal, file import).
"""

from __future__ import annotations

# Item data: one field's text (a CSV cell, a JSON string) in every import format. Under the csv
# module's own 131,072-character field limit, so a CSV cell is refused by our check, not csv's.
MAX_DATA_FIELD_CHARS = 100_000
# JSON anywhere (request bodies, JSON/JSONL imports): arrays and objects nested at most this deep.
MAX_JSON_DEPTH = 32
# A JSON number's text: longer ones are refused before Python (or PostgreSQL) converts them.
MAX_JSON_NUMBER_CHARS = 40
# A JSON request body of the API (imports are streamed apart and have QUORUM_MAX_IMPORT_BYTES).
MAX_JSON_BODY_BYTES = 2 * 1024 * 1024

# Job instructions (Markdown). Python-Markdown has inline patterns whose cost grows with the
# square of the brackets and angle brackets in a paragraph, and recursion per nesting level:
# these bound the worst case to a fraction of a second, paid once when the job is saved.
MAX_INSTRUCTIONS_CHARS = 20_000
MAX_INSTRUCTIONS_NESTING = 10  # list, quote and indentation levels of one line
MAX_INSTRUCTIONS_MARKUP = 500  # '[' and '<' characters in all

# Names people read: label names, job titles, organization names.
MAX_LABEL_NAME_CHARS = 120
MAX_TITLE_CHARS = 200
