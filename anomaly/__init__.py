"""Anomaly detection (scikit-learn detectors, Anomaly rows and their Celery jobs).

Empty until its issue lands; the package exists so the layout of DESIGN.md holds.
"""
