"""Where the product's data is kept: clients for S3, Redis and Flink's REST API, and
the readers and writers of what the jobs publish (snapshots, edit activity, bot lists,
navigation summaries).

The applications import from here and from core; nothing here imports an application,
and the rules these stores apply live in core.
"""
