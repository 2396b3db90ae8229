//! ntfs reader: placeholder until the reader lands.
