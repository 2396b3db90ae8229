//! fat reader: placeholder until the reader lands.
