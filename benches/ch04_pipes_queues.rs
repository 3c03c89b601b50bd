//! Chapter 4 benchmark (being written).
fn main() {}
