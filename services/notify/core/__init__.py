"""Notify's pure core: what to say, when, and in which language."""
