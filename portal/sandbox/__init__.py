"""The sandbox cloud: a stand-in for a cloud provider (its API, its console and its provider).

Kept import-light on purpose: the provider process imports this package as ``sandbox`` without Django.
"""
