"""The checker's rules: one small module per family, each rule a pure function of ``Facts``."""
