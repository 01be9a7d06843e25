"""The database: typed models, engine/session setup, migrations and the named queries.

Every other package reads and writes through these models; sessions are opened only by
`cli.py` and `worker.py` and passed down.
"""
