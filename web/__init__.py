"""`cait serve`: the web dashboard and JSON API over the same database (a driver, beside cli/).

`app.create_app(settings)` builds the FastAPI app; one module per noun holds its pages and its
`/api/` routes (`timeline`, `articles`, `sources`), `auth` the users, sessions and CSRF, and
`context` what they share. Every report is the function the CLI calls, rendered here as HTML
(Jinja2, autoescaped) and JSON.
"""
