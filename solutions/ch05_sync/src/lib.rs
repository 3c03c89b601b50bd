//! Chapter 5, Synchronization primitives on shared memory and futexes.
//!
//! Every primitive here lives in memory that the processes forked after its creation
//! share, and sleeps on a futex in that memory. Every blocking call takes a timeout;
//! `None`, or a timeout too long to have a deadline (`Duration::MAX`), waits as long as
//! it takes, and never panics ([`mpkit::deadline_after`] turns timeouts into deadlines).
//!
//! - [`shm`]: given, shared memory that really is shared after `fork`.
//! - [`futex`]: given, futex wait and wake across processes, with absolute deadlines.
//! - [`lock`]: exercise 1, `Lock`: acquire and release on one futex word.
//! - [`event`]: exercise 2, `Event`: set and wait.
//! - [`semaphore`]: exercise 3, `Semaphore` and the bounded semaphore's exact release.
//! - [`barrier`]: exercise 4, `Barrier`: rounds, indices and one leader.
//! - [`rlock`]: exercise 5, `RLock`: an owner and a count.
//! - [`condition`]: exercise 6, `Condition`: a queue of waiters; notify wakes exactly n.
//! - [`robust`]: exercise 7, `RobustLock`: a lock that survives its holder's death.

pub mod barrier;
pub mod condition;
pub mod error;
pub mod event;
pub mod futex;
pub mod lock;
pub mod rlock;
pub mod robust;
pub mod semaphore;
pub mod shm;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionLock};
pub use error::SyncError;
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use rlock::RLock;
pub use robust::{RobustError, RobustGuard, RobustLock};
pub use semaphore::Semaphore;
pub use shm::{Shared, ShmSafe};
