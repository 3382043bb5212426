"""Identity documents, read and checked offline.

Entry point: :mod:`kycguard.documents.analyze` (``DocumentAnalyzer``, ``analyze_document``).
Reading: :mod:`.mrz` (ICAO 9303 parse / locate / decode / read), :mod:`.barcode` + :mod:`.aamva`
(PDF417 on driver licences), :mod:`.viz` (printed text). Checking: :mod:`.dates`, :mod:`.names`,
:mod:`.checks`, :mod:`.tamper`. Settings: :mod:`.config`. This package imports nothing heavy at
import time (``kycguard.settings`` imports its config).
"""
