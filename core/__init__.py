"""Shared core of wikitrends: configuration, contracts and pure domain rules.

The four applications (producer, streaming, batch, web) import from here and
from stores/ (the I/O they share), never from each other. Nothing in this
package imports an application or does I/O beyond reading the configuration.
"""
