//! The `wxoa` command line.
fn main() {}
