"""The shared domain of the flare warning system.

Records, the flux scale and flare classes, features, alerts and settings live here
so that the producers, the stream app, the trainer and alerting agree on them.
"""
