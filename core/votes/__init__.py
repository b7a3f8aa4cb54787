"""Visitor votes: people classify galaxies with the GZ1 question, as the 2007 volunteers did.

* :mod:`core.votes.answers` – the six GZ1 answers, their button wording and keys;
* :mod:`core.votes.clients` – who a vote comes from: a keyed hash of the visitor's address that
  survives reloads and tabs (the raw address is never stored);
* :mod:`core.votes.store` – the votes table (SQLAlchemy Core; SQLite by default, PostgreSQL
  when shared), recording, undo, one vote per galaxy and client, the per-client rate limit;
* :mod:`core.votes.migrations` – the schema-version table and the upgrade path;
* :mod:`core.votes.pool` – which galaxies can be classified, with the model's cached fractions;
* :mod:`core.votes.choose` – which galaxy a visitor sees next;
* :mod:`core.votes.aggregate` – counts, fractions, crowd statistics and the Table-2 export.

Aggregates (counts, fractions, NVOTE) are always derived from the vote rows by queries,
never stored a second time.
"""
