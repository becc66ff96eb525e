"""talkwatch: nightly news ingestion that flags contradicting reports about ceasefire and peace talks."""

__version__ = "0.1.0"
