"""Face vision: decoding, detection + landmarks (MediaPipe), alignment, embeddings, quality.

Components follow the MediaPipe Tasks shape: an options dataclass, ``create_from_options``, and
frozen result dataclasses, so another detector or embedding model can replace one behind a Protocol.
"""
