"""Accounts and access for the fleet console and API.

Pure rules (``policy``, ``passwords``, ``throttle``, ``sessions``, ``tokens``) and one thin
store (``store``) that applies them and writes every change to the audit log. The FastAPI
routes call ``store`` to find out *who* is asking and ``policy.decide`` to find out *whether*.
"""
