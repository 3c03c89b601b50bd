//! The digest of a benchmark's source files, written into its figures file by the
//! bench and recomputed by `cargo xtask check`, which includes this very file (one
//! source for both sides): when a bench's sources change, its figures are stale.
//!
//! FNV-1a, 128 bits, by hand so that the benches need no dependency. It detects edits,
//! not attacks: nothing here is a security boundary.

use std::path::Path;

/// The 128-bit FNV offset basis and prime.
const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The digest, as 32 hex digits, of `sources` (paths relative to `root`, written with
/// `/`), read from under `root`. Each file contributes its path, its length and its
/// bytes, in the order given, so a rename or a moved byte changes the digest.
pub fn source_digest(root: &Path, sources: &[String]) -> Result<String, String> {
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u128::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for source in sources {
        let bytes =
            std::fs::read(root.join(source)).map_err(|e| format!("reading {source}: {e}"))?;
        eat(source.as_bytes());
        eat(&[0]);
        eat(&(bytes.len() as u64).to_le_bytes());
        eat(&bytes);
    }
    Ok(format!("{hash:032x}"))
}

/// The files every bench's digest covers besides its own `.rs` and the scripts it
/// runs: the `.rs` and `.py` files under `benches/common/`, sorted, relative to `root`.
pub fn common_sources(root: &Path) -> Result<Vec<String>, String> {
    let dir = root.join("benches/common");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(".rs") || name.ends_with(".py"))
        .map(|name| format!("benches/common/{name}"))
        .collect();
    names.sort();
    Ok(names)
}
