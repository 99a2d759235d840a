"""Invoices written out: JSON for the API and CSV for download (billing/invoices.py builds them).

Money as strings with 2 places, prices and rates with 4; client text in CSV cells is quoted
against spreadsheet formulas (csvcells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

from marketplace.billing.invoices import Invoice, InvoiceLine, percent_text
from marketplace.csvcells import csv_cell


def _m(value: Decimal) -> str:
    return f"{value:.2f}"


def invoice_as_dict(invoice: Invoice) -> dict[str, object]:
    """JSON: money as strings with 2 places, rates with 4."""
    return {
        "number": invoice.number,
        "organization": {"id": invoice.organization_id, "name": invoice.organization_name},
        "period": invoice.period,
        "status": invoice.status,
        "lines": [
            {
                "job": line.job_id,
                "title": line.job_title,
                "tier": line.tier,
                "tier_name": line.tier_name,
                "items_charged": line.items_charged,
                "items_reopened": line.items_reopened,
                "completed_items": line.completed_items,  # items_charged's older name, kept for clients
                "price_per_item": f"{line.price_per_item:.4f}",
                "amount": _m(line.amount),
                "settled_at": line.settled_at,
                "quality": line.quality,
            }
            for line in invoice.lines
        ],
        "credits": [
            {
                "job": c.job_id,
                "title": c.job_title,
                "promised_accuracy": f"{c.promised_accuracy:.4f}",
                "delivered_accuracy": f"{c.delivered_accuracy:.4f}",
                "interval": [f"{c.interval_low:.4f}", f"{c.interval_high:.4f}"],
                "method": c.method,
                "rate": f"{c.rate:.4f}",
                "amount": _m(c.amount),
            }
            for c in invoice.credits
        ],
        "expert_reviews": [
            {"job": r.job_id, "title": r.job_title, "reviews": r.reviews, "price": _m(r.price), "amount": _m(r.amount)}
            for r in invoice.reviews
        ],
        "extra_judgments": [
            {"job": e.job_id, "title": e.job_title, "judgments": e.judgments, "pay": f"{e.pay:.4f}",
             "amount": _m(e.amount)}
            for e in invoice.extras
        ],
        "subtotal": _m(invoice.subtotal),
        "credits_total": _m(invoice.credits_total),
        "total": _m(invoice.total),
        "paid": None if invoice.payment is None else {
            "paid_at": invoice.payment.paid_at,
            "total": _m(invoice.payment.total),
            "payment_reference": invoice.payment.payment_reference,
        },
    }


def line_note(line: InvoiceLine) -> str:
    """A line's note: the quality promise, and the reopened items among those charged."""
    if not line.items_reopened:
        return line.quality
    return f"{line.quality}; {reopened_text(line.items_reopened)}"


def reopened_text(reopened: int) -> str:
    """Why items charged can be more than items complete now (the job page says it too)."""
    return (f"{reopened} of the items charged {'were' if reopened != 1 else 'was'} reopened for the more "
            "judgments you asked for after delivery, so not complete now")


CSV_HEADER = ["invoice", "kind", "job", "title", "tier", "quantity", "unit_price", "amount", "note"]


def invoice_csv_lines(invoice: Invoice) -> Iterator[str]:
    """CSV, one row per line and per credit (negative), then the total; yielded row by row
    so the view can stream it. Titles are client text: a leading = + - @ is quoted with '
    so a spreadsheet shows it instead of running it as a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # lines end in \r\n, as RFC 4180 and every other CSV Quorum writes

    def row(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield row(CSV_HEADER)
    for line in invoice.lines:
        yield row([
            invoice.number, "line", line.job_id, csv_cell(line.job_title), line.tier,
            line.items_charged, f"{line.price_per_item:.4f}", _m(line.amount), csv_cell(line_note(line)),
        ])
    for r in invoice.reviews:
        yield row([
            invoice.number, "expert_review", r.job_id, csv_cell(r.job_title), "", r.reviews, f"{r.price:.4f}",
            _m(r.amount), "expert reviews asked for and settled",
        ])
    for e in invoice.extras:
        yield row([
            invoice.number, "extra_judgments", e.job_id, csv_cell(e.job_title), "", e.judgments, f"{e.pay:.4f}",
            _m(e.amount), "more judgments asked for and given",
        ])
    for c in invoice.credits:
        note = (
            f"promised {percent_text(c.promised_accuracy)}, delivered {percent_text(c.delivered_accuracy)} "
            f"(95% interval {percent_text(c.interval_low)}–{percent_text(c.interval_high)}); {c.method}"
        )
        yield row([
            invoice.number, "credit", c.job_id, csv_cell(c.job_title), "", "", f"{c.rate:.4f}",
            _m(-c.amount), csv_cell(note),
        ])
    yield row([invoice.number, "total", "", "", "", "", "", _m(invoice.total), invoice.status])

