"""The state: subscribers, the send ledger and the schedule's runs, in one database.

SQLite in ``state_dir`` by default, PostgreSQL when the config names ``state_url``; one
schema with numbered migrations for both (``schema.py``), every statement named in one
catalogue (``queries.py``), connections behind one small interface (``database.py``): where
a state is in ``location.py``, each engine's connecting in ``sqlite.py`` and
``postgresql.py``.
"""
