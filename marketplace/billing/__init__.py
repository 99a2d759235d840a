"""Billing: tiers and quotes, prepaid balances and job escrow, a double-entry ledger, worker
earnings and payouts. See models.py for the money model and pricing.py for rounding."""
