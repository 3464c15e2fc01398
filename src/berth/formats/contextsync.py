"""Wire names of Berth's incremental build context, shared by the berth CLI and the daemon
(the protocol: :mod:`berth.engine.builder.contextcache`)."""

MANIFEST_ENTRY = ".berth-context"  # the preamble entry listing the context's files
BASE_GONE = "build context base is gone: the client must send the whole context"
