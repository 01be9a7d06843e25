"""The bottom layer: words every stage shares (text, vocabulary, errors).

Anything in cait may import from here; nothing here imports from the stages or `db`.
"""
