"""Machine-readable zones: :mod:`.parse` (ICAO 9303 layouts and check digits, pure),
:mod:`.locate` (finding MRZ lines among text boxes), :mod:`.decode` (fixed-length constrained CTC
decoding), :mod:`.read` (the whole reading pipeline)."""
