"""Decision policies: named, versioned thresholds and enabled checks, risk tiers, document-type
rules, A/B experiments and threshold tuning from reviewers' labels (README "Policies").

A policy is configuration a compliance team reviews, not code: every decision records the policy
name and version it was made under, and changing one is an audited admin action with history.
"""
