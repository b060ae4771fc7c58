"""Training, evaluation, registry and backtest of the flare forecast model.

Run as ``python -m trainer fit|evaluate|promote|backtest|schedule``; see
``docs/trainer.md``.
"""
