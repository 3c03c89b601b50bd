//! The test suite's view of the workbook: which crates it grades.
//!
//! `cargo test` grades the student's crates in `chapters/`; `cargo test --features
//! solutions` runs the same tests, with the same snapshots, against `solutions/`. Each
//! test file says `use workbook::chNN_slug::...` and never knows which one it got.

/// `chapter!(chNN_slug, chNN_slug_solution)` makes `workbook::chNN_slug` the skeleton,
/// or the solution with the `solutions` feature.
macro_rules! chapter {
    ($skeleton:ident, $solution:ident) => {
        #[cfg(not(feature = "solutions"))]
        pub use ::$skeleton;
        #[cfg(feature = "solutions")]
        pub use ::$solution as $skeleton;
    };
}

chapter!(ch01_setup, ch01_setup_solution);
chapter!(ch02_first_taste, ch02_first_taste_solution);
chapter!(ch03_lifecycle, ch03_lifecycle_solution);
chapter!(ch04_pipes_queues, ch04_pipes_queues_solution);
chapter!(ch05_sync, ch05_sync_solution);
chapter!(ch06_shared_memory, ch06_shared_memory_solution);
chapter!(ch07_pool, ch07_pool_solution);
