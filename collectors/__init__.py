"""Collection: sources → fetch → parse → decide → store.

`sources` holds what to poll, `fetch` the HTTP client, `feeds` and `pages` turn bytes into
entries and articles, `dedup` and `schedule` are pure policy, `store` writes to the
database and `update` runs one pass over the due sources.
"""
