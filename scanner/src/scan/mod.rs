//! The scan pipeline: disks -> volumes -> files -> yara-x + hash IOCs -> records.
