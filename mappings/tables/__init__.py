"""The packaged mapping tables (TOML data, one file per target); see copilot.mappings.table."""
