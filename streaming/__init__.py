"""The two Flink jobs, each in its own package, and what they share.

pageviews/   page requests -> minute counts -> sliding windows (ten topics), trending (Redis),
             hourly counts (S3); its per-record operators are Java, in jvm/
edits/       Wikimedia edits -> edit activity and watch-list alerts (Kafka, Redis)
gather.py    the publishers' base: a minute's or an hour's rows in state, published when event
             time passes it, retried while the service is down
flink_jobs.py  submit, stop with a savepoint and resume either job through the `flink` CLI and REST
"""
