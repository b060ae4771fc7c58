"""The stream app: minute records in, flare classes, forecasts and alerts out.

``app.py`` holds the faust app; ``tables.py`` its topics and tables, ``agents.py``
the agents and tasks, ``views.py`` the HTTP views. The per-record logic lives in
:mod:`flarecore.engine`, free of faust. Run a worker with
``python -m stream_app worker``; see ``docs/stream_app.md``.
"""
