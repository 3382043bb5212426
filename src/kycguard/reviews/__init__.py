"""The review workflow: a queue of ``manual_review`` cases, claims, decisions, feedback labels and
the known-faces search. Reacts to ``CaseDecided`` on the event bus; publishes ``ReviewDecided``,
``CaseLabelled`` and ``KnownFaceMatched``."""
