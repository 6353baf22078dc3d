"""Plotly figures built in Python, one builder per chart; each returns the chart's div
(plotly.js itself is loaded once by the page, from our static files)."""
