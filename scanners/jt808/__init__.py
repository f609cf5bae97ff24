"""JT/T 808: the protocol dangerous-goods vehicle terminals speak to the platform.

:mod:`~scanners.jt808.frame` cuts the TCP stream into frames, :mod:`~scanners.jt808.messages`
reads and writes the messages the platform needs, and :mod:`~scanners.jt808.gateway` is the
TCP server that registers terminals and stores their positions. See ``docs/jt808.md``.
"""
