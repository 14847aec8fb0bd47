"""Shared core of wikitrends: configuration, contracts and pure domain rules.

The four applications (producer, streaming, batch, web) import from here and
never from each other. Nothing in this package imports an application.
"""
