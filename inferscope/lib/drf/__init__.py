"""The one DRF toolkit: time-range lists, filters, pages and CSV/JSON export."""
