"""Pure domain: classification, planning and payload normalisation. No IO."""
