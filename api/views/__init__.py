"""The api app's read views: the fleet (fleet.py) and its time series (series.py)."""
