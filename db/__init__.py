"""The database layer: peewee models, migrations, connections from a URL, and the tools.

Modules: `url` (parse `sqlite:///...` / `postgresql://...`), `connect` (open a database),
`models` (tables), `migrations` (schema versions), `transactions` (write transactions),
`passwords` and `accounts` (users), `conservation` (the stock invariant), `demo`, `importer`,
`backup`. Imports only peewee, argon2 and the standard library; see docs/database.md.
"""
