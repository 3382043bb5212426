"""The tests' document renderer is the library's: :mod:`kycguard.documents.specimens` (one renderer,
also used by ``kycguard bench cards``). Kept so that tests import it under its old name."""

from kycguard.documents.specimens import *  # noqa: F403
