//! Exercise 2: how a task crosses to a forked worker: a function's address, and its
//! arguments as bytes.
//!
//! Python pickles a task's function *by name* (`module.qualname`) and the worker looks
//! the name up again. A Rust program has no such table, but a forked worker is a copy
//! of the very process that made the task: same binary, same addresses. So a `fn`
//! pointer, as a number, means the same function on both sides, and a task is two
//! addresses (the caller's function, and a "trampoline" made for its argument and
//! result types) plus the arguments as postcard bytes.
//!
//! Only a `fn` pointer crosses, never a closure that captures: what it captures lives
//! in the parent's memory, made after the fork, and the worker's copy has never seen
//! it. The compiler enforces it, because a capturing closure does not coerce to a `fn`
//! pointer. None of this holds across `exec`: a spawned process (Python's "spawn" and
//! "forkserver" start methods), or another binary, has other addresses.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{PoolError, TaskError};

/// The code that runs a task in a worker: decodes the arguments, calls the function at
/// address `func`, encodes its result. One is compiled for each argument and result
/// type, so that [`Task::run`] needs to know neither.
pub type Trampoline = fn(func: usize, args: &[u8], worker: &str) -> Result<Vec<u8>, TaskError>;

/// One call, ready to cross to a worker forked from this process: the address of a
/// [`Trampoline`], the address of the caller's function, and the arguments' bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    call: usize,
    func: usize,
    #[serde(with = "byte_string")]
    args: Vec<u8>,
}

impl Task {
    // ANCHOR: new
    /// The call `f(args)`, as a task: `Encode` (with postcard's reason) when the
    /// arguments cannot be encoded.
    ///
    /// `f` is a `fn` pointer: a function, or a closure that captures nothing.
    ///
    /// ```compile_fail
    /// let k = 3;
    /// // A closure that captures `k` is not a `fn` pointer: this does not compile.
    /// ch07_pool_solution::Task::new(move |x: u32| x * k, &2);
    /// ```
    pub fn new<A, R>(f: fn(A) -> R, args: &A) -> Result<Task, PoolError>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize,
    {
        // TODO: the address of the trampoline compiled for A and R, the address of
        // `f`, and the arguments' postcard bytes (`Encode` when they do not encode).
        todo!(
            "make a task of a call with arguments of type {}",
            std::any::type_name::<A>()
        )
    }
    // ANCHOR_END: new

    /// The calls `f(item)` for each of `items`, in order, as one task (a chunk): it
    /// returns the postcard bytes of a `Vec<R>`.
    pub fn chunk<A, R>(f: fn(A) -> R, items: &[A]) -> Result<Task, PoolError>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize,
    {
        Ok(Task {
            call: call_chunk::<A, R> as Trampoline as usize,
            func: f as usize,
            args: encode_args(items)?,
        })
    }

    /// The calls `f(a, b)` for each pair of `items`, in order, as one task: Python's
    /// `starmap` chunk. It returns the postcard bytes of a `Vec<R>`.
    pub fn star<A, B, R>(f: fn(A, B) -> R, items: &[(A, B)]) -> Result<Task, PoolError>
    where
        A: Serialize + DeserializeOwned,
        B: Serialize + DeserializeOwned,
        R: Serialize,
    {
        Ok(Task {
            call: call_star::<A, B, R> as Trampoline as usize,
            func: f as usize,
            args: encode_args(items)?,
        })
    }

    /// How many bytes the arguments take.
    pub fn args_len(&self) -> usize {
        self.args.len()
    }

    // ANCHOR: run
    /// Runs the task in this process and returns the result's postcard bytes, or why
    /// there are none: `Panicked` (with `worker`, the name of the process running it,
    /// and the panic's message), `Encode` (a result that does not encode), `Decode`
    /// (arguments of another type). A call of `mpkit::exit` in the task is not caught:
    /// it ends the worker, as `sys.exit` in a task does.
    ///
    /// # Safety
    ///
    /// The task must have been made by [`Task::new`], [`Task::chunk`] or [`Task::star`]
    /// in this process, or in a process this one was forked from: its two numbers are
    /// addresses of code in that binary, and are called as such. A task decoded from
    /// bytes anyone else could have written may call any address.
    pub unsafe fn run(&self, worker: &str) -> Result<Vec<u8>, TaskError> {
        // TODO: call the trampoline at `self.call` with the function's address, the
        // arguments and the worker's name. A panic becomes `Panicked` with its message,
        // except an exit request (see `mpkit::requested_exit`), which goes on unwinding.
        todo!(
            "run a task of {} argument bytes in {worker}",
            self.args.len()
        )
    }
    // ANCHOR_END: run
}

/// The postcard bytes of a task's arguments.
fn encode_args<T: Serialize + ?Sized>(args: &T) -> Result<Vec<u8>, PoolError> {
    postcard::to_stdvec(args).map_err(|e| PoolError::Encode(e.to_string()))
}

/// A value of type `T` from all of `bytes`, in the worker: `Decode` otherwise.
pub fn decode_in_worker<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TaskError> {
    ch04_pipes_queues::decode(bytes).map_err(|e| TaskError::Decode(e.to_string()))
}

/// The postcard bytes of a task's result, in `worker`: `Encode` otherwise.
pub fn encode_in_worker<T: Serialize + ?Sized>(
    value: &T,
    worker: &str,
) -> Result<Vec<u8>, TaskError> {
    postcard::to_stdvec(value).map_err(|e| TaskError::Encode {
        worker: worker.to_owned(),
        message: e.to_string(),
    })
}

// ANCHOR: call_one
/// The trampoline of [`Task::new`]: `f(args)` where `f` is the `fn(A) -> R` at `func`.
fn call_one<A, R>(func: usize, args: &[u8], worker: &str) -> Result<Vec<u8>, TaskError>
where
    A: DeserializeOwned,
    R: Serialize,
{
    // TODO: decode an A (`Decode` otherwise), call the `fn(A) -> R` at `func`, and
    // encode its result (`Encode` otherwise).
    todo!(
        "call the fn({}) -> {} at {func:#x} on {} argument bytes in {worker}",
        std::any::type_name::<A>(),
        std::any::type_name::<R>(),
        args.len()
    )
}
// ANCHOR_END: call_one

/// The trampoline of [`Task::chunk`].
fn call_chunk<A, R>(func: usize, args: &[u8], worker: &str) -> Result<Vec<u8>, TaskError>
where
    A: DeserializeOwned,
    R: Serialize,
{
    // SAFETY: as in `call_one`: stored by `Task::chunk::<A, R>`.
    let f = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let items: Vec<A> = decode_in_worker(args)?;
    let results: Vec<R> = items.into_iter().map(f).collect();
    encode_in_worker(&results, worker)
}

/// The trampoline of [`Task::star`].
fn call_star<A, B, R>(func: usize, args: &[u8], worker: &str) -> Result<Vec<u8>, TaskError>
where
    A: DeserializeOwned,
    B: DeserializeOwned,
    R: Serialize,
{
    // SAFETY: as in `call_one`: stored by `Task::star::<A, B, R>`.
    let f = unsafe { std::mem::transmute::<usize, fn(A, B) -> R>(func) };
    let items: Vec<(A, B)> = decode_in_worker(args)?;
    let results: Vec<R> = items.into_iter().map(|(a, b)| f(a, b)).collect();
    encode_in_worker(&results, worker)
}

/// The text of a panic's payload (`panic!`, `assert!` and `todo!` carry a string).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Serde for bytes as one byte string: postcard writes its length, then copies it
/// whole (a `Vec<u8>` left to serde's default goes byte by byte, as a sequence of
/// numbers; the bytes on the wire are the same).
pub mod byte_string {
    use std::fmt;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    /// Writes `bytes` as one byte string.
    pub fn serialize<S: Serializer, B: AsRef<[u8]>>(bytes: &B, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes.as_ref())
    }

    /// Reads one byte string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(ByteBuf)
    }

    struct ByteBuf;

    impl<'de> Visitor<'de> for ByteBuf {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a byte string")
        }

        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::new();
            while let Some(byte) = seq.next_element()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }
}
