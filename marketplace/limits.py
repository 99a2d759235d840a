"""Every limit on what a person can type or upload, in one place (the README's limits table).

Pure constants: importers, parsers, services and forms read them from here, so one value holds
in every format and every door (API, portal, file import).
"""

from __future__ import annotations

from decimal import Decimal

# Item data: one field's text (a CSV cell, a JSON string) in every import format. Under the csv
# module's own 131,072-character field limit, so a CSV cell is refused by our check, not csv's.
MAX_DATA_FIELD_CHARS = 100_000
# One item's data as a whole (its JSON text): every worker given the item downloads all of it, and
# the field limit alone let an item of many fields, or of numbers (which it does not count), reach
# the import's whole size. 1,000,000 characters is ten full fields, far past any page a worker reads.
MAX_ITEM_DATA_CHARS = 1_000_000
# JSON anywhere (request bodies, JSON/JSONL imports): arrays and objects nested at most this deep.
MAX_JSON_DEPTH = 32
# A JSON number's text: longer ones are refused before Python (or PostgreSQL) converts them.
MAX_JSON_NUMBER_CHARS = 40
# An id sent in a body, a form or a query: a whole number from 1 to the largest bigint, the type
# of every primary key. A larger one names no row, and the database driver cannot even send it
# (OverflowError, a 500 before this limit).
MAX_ID = 2**63 - 1
# A JSON request body of the API (imports are streamed apart and have QUORUM_MAX_IMPORT_BYTES).
MAX_JSON_BODY_BYTES = 2 * 1024 * 1024

# Job instructions (Markdown), rendered in the request that saves them. Python-Markdown recurses
# per nesting level, spends about 0.1 ms (on a slow core) per element it builds, and some of its
# block parsers rescan the rest of a block after each line they take (headings, rules): lines,
# lines per block and formatting characters bound those, so any text within these limits renders
# in about 0.2 s at worst (tests/jobs/test_markdown.py). Link brackets are made linear in
# jobs/markdown_links.py; their own limit stays as documented.
MAX_INSTRUCTIONS_CHARS = 20_000
MAX_INSTRUCTIONS_NESTING = 10  # list, quote and indentation levels of one line
MAX_INSTRUCTIONS_MARKUP = 500  # '[' and '<' characters in all
MAX_INSTRUCTIONS_LINES = 1_500  # lines holding text; blank lines are free
MAX_INSTRUCTIONS_BLOCK_LINES = 200  # lines in a row without a blank line between them
MAX_INSTRUCTIONS_FORMATTING = 2_000  # '*', '_', '`', '|', '\\' and '&' characters in all

# Free text one person writes for another: the reason for blocking or unblocking a worker, an
# appeal's reason, a decision's note (a paragraph); a qualification's description (a page of help).
MAX_REASON_CHARS = 2_000
MAX_DESCRIPTION_CHARS = 5_000

# Names people read: label names, job titles, organization names.
MAX_LABEL_NAME_CHARS = 120
MAX_TITLE_CHARS = 200

# A job's pay per accepted judgment (currency units): workers earn per answer, so a job paying
# nothing (or a fraction of a cent a client typed by mistake) is refused on every door. A job's
# tier may ask more (Tier.pay_per_judgment: flows.job_create/job_update and publishing check it).
MIN_PAY_PER_JUDGMENT = Decimal("0.01")
MAX_PAY_PER_JUDGMENT = Decimal("1000")

# One amount of money a person types or sends (a top-up, an escrow addition, a payout request),
# in plain digits with at most 2 places (parsing.decimal_plain). Far above any one payment Quorum
# sees, far below what an account holds (billing.pricing.MAX_BALANCE): a slip such as 1e10 for
# 10 is refused instead of recorded. A larger payment is recorded in parts.
MAX_MONEY_INPUT = Decimal("1000000.00")

# Judgments per item a job (or a quote) may ask for: its overlap, and a dynamic overlap's maximum.
MAX_OVERLAP = 50
