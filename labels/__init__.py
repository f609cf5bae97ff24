"""Labels: payload, QR and barcode rendering, print formats."""
