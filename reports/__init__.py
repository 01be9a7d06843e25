"""Reports: theme timelines, article search, weekly digests and charts.

`build_*` functions return dataclasses computed from the database; rendering (tables, CSV,
JSON, Markdown, HTML, PNG) is separate so every format shows the same numbers.
"""
