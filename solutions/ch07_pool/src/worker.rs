//! Exercise 3: a worker's life: its initializer, then one task at a time, each answered
//! in order, until the pool closes its end or the worker has done its share.

use std::rc::Rc;

use ch04_pipes_queues::{Connection, PipeError};
use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::task::Task;

/// What a worker sends to the pool, on its own connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The initializer has returned: the worker takes tasks. Sent once, first.
    Ready,
    /// The outcome of the oldest task the worker was sent and has not answered yet:
    /// the result's postcard bytes, or why there are none.
    Done(#[serde(with = "outcome")] Result<Vec<u8>, TaskError>),
}

/// Serde for an outcome whose bytes travel as one byte string (see
/// [`byte_string`](crate::task::byte_string)).
mod outcome {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::error::TaskError;

    #[derive(Serialize)]
    enum Sent<'a> {
        Ok(#[serde(with = "crate::task::byte_string")] &'a [u8]),
        Err(&'a TaskError),
    }

    #[derive(Deserialize)]
    enum Received {
        Ok(#[serde(with = "crate::task::byte_string")] Vec<u8>),
        Err(TaskError),
    }

    pub fn serialize<S: Serializer>(
        outcome: &Result<Vec<u8>, TaskError>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match outcome {
            Ok(bytes) => Sent::Ok(bytes),
            Err(err) => Sent::Err(err),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Result<Vec<u8>, TaskError>, D::Error> {
        Ok(match Received::deserialize(d)? {
            Received::Ok(bytes) => Ok(bytes),
            Received::Err(err) => Err(err),
        })
    }
}

/// What a worker needs besides its connection.
#[derive(Clone)]
pub struct WorkerSetup {
    /// The worker's name (`ForkPoolWorker-N`), which its panics carry.
    pub name: String,
    /// Runs once, first (Python's `initializer(*initargs)`). It was copied into the
    /// worker by `fork`, so it may capture anything.
    pub initializer: Option<Rc<dyn Fn()>>,
    /// How many tasks the worker runs before it leaves (Python's `maxtasksperchild`);
    /// `None`: no limit.
    pub maxtasks: Option<usize>,
}

// ANCHOR: serve
/// The worker's loop, in the forked worker: runs the initializer (a panic there ends
/// the worker before it says `Ready`); sends [`Reply::Ready`]; then receives one
/// [`Task`] frame at a time, runs it and sends [`Reply::Done`] with its outcome, in
/// the order the tasks came. Returns (and the worker exits with 0) at end-of-file
/// (the pool closed its end), after `maxtasks` tasks, or when the pool cannot be
/// reached any more.
///
/// A result too long for one message is answered with an `Encode` error, not a lost
/// worker.
pub fn serve(conn: &mut Connection, setup: &WorkerSetup) {
    // SKELETON: // TODO: the initializer, then `Ready`; then receive, run, answer, one task at a
    // SKELETON: // time and in order, until end-of-file or `maxtasks` tasks. A task's outcome
    // SKELETON: // always gets an answer, even one too long to send.
    // SKELETON: todo!("serve tasks as {} (at most {:?})", setup.name, setup.maxtasks)
    // BEGIN SOLUTION
    if let Some(initializer) = &setup.initializer {
        initializer();
    }
    if conn.send(&Reply::Ready).is_err() {
        return;
    }
    let mut done = 0;
    while setup.maxtasks.is_none_or(|max| done < max) {
        let outcome = match conn.recv_bytes() {
            Ok(frame) => match ch04_pipes_queues::decode::<Task>(&frame) {
                // SAFETY: the frame came from the pool, the only other holder of this
                // socketpair, which made the task in the process this one was forked
                // from (see `Task::run`).
                Ok(task) => unsafe { task.run(&setup.name) },
                Err(err) => Err(TaskError::Decode(err.to_string())),
            },
            Err(_) => return,
        };
        done += 1;
        if !answer(conn, outcome, &setup.name) {
            return;
        }
    }
    // END SOLUTION
}
// ANCHOR_END: serve

/// Sends `outcome`; a result too long for one message is answered with an `Encode`
/// error instead. False when the pool cannot be reached.
pub fn answer(conn: &Connection, outcome: Result<Vec<u8>, TaskError>, worker: &str) -> bool {
    match conn.send(&Reply::Done(outcome)) {
        Ok(()) => true,
        Err(PipeError::TooLarge { len, max }) => {
            let too_long = TaskError::Encode {
                worker: worker.to_owned(),
                message: format!("a result of {len} bytes is over the limit of {max}"),
            };
            conn.send(&Reply::Done(Err(too_long))).is_ok()
        }
        Err(_) => false,
    }
}
