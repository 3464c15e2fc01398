"""Pure data of the OCI image and runtime specs: no I/O here."""
