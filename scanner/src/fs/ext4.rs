//! ext4 reader: placeholder until the reader lands.
