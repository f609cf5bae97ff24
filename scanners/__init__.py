"""The scanner side: decoding, offline verification, outbox, device protocols."""
