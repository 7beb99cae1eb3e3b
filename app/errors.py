"""The few error types a user can act on; each message is plain words, shown as is.

A module of its own below every layer: settings, storage, the core and the front ends all raise
or catch these, and none of them need import another layer to do so.
"""
from __future__ import annotations


class AestheteError(Exception):
    """An error with a message meant for the user."""


class SettingsError(AestheteError):
    pass


class ModelMissingError(AestheteError):
    """Model weights could not be found locally and could not be downloaded."""


class ModelInvalidError(AestheteError):
    """Files were found but are not the model we expect (wrong head keys, not SigLIP)."""


class FacesUnavailable(AestheteError):
    """Face checks cannot run (no face model, a damaged one, or no runtime); everything else works."""


class DatabaseError(AestheteError):
    """The library database is unusable: corrupt, from a newer release, or locked."""


class PhotoError(AestheteError):
    """One photo could not be read; the message is the one-line reason."""

    def __init__(self, reason: str, kind: str = "error"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "error", "unsupported", or "vanished" (the file went away while read)


class Cancelled(Exception):
    """Work was cancelled by the user; not an error."""
