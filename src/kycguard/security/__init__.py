"""Security, privacy and audit: API keys and roles, rate limits, request signatures, encryption at
rest, retention and erasure, the hash-chained audit log, web hardening.

Each module has one job; :mod:`kycguard.security.runtime` wires them into the process-wide Runtime.
"""
