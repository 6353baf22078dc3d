"""Rollup SQL: raw samples into minute buckets, and buckets into longer ones."""
