"""Dataset loaders: local data directory first, then the public source with checksum verification."""
