"""The database layer: peewee models, migrations, connections from a URL, and the tools.

Modules: `url` (parse `sqlite:///...` / `postgresql://...`), `connect` (open a database),
`models` (tables), `migrations` (schema versions), `transactions` (write transactions),
`passwords` and `accounts` (users), `conservation` (the stock invariant), `demo`, `importer`,
`backup`. Imports peewee, argon2, the standard library and `protocol.rules` (the vocabulary
shared with the wire, such as the roles), nothing else; see docs/database.md.
"""
