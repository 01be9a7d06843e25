"""`python -m cli`: the same as the `cait` command."""

from cli import app

app()
