"""The pure domain core of custody: identifiers, reference data, registry rules.

No web framework, no SQL, no label library: adapters depend on this package, never the reverse.
"""
