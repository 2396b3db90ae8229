//! `scanner`: placeholder entry point until the CLI lands.
fn main() {}
