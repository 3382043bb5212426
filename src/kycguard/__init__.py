"""kycguard: self-hosted identity verification (document + selfie, liveness, face match), offline."""

__version__ = "0.1.0"
API_VERSION = "v1"
