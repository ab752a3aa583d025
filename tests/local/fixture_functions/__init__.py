"""Tiny handlers the local-stack tests run in place of the real functions."""
