//! Exercise 1: a process's name from its kind and identity.

/// The kind of a process: the first part of its default name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessKind {
    /// A process made by the default context: `Process-1`.
    Process,
    /// A process made by an explicit fork context: `ForkProcess-1`.
    ForkProcess,
    /// A worker of a process pool: `ForkPoolWorker-1`.
    ForkPoolWorker,
}

impl ProcessKind {
    /// The prefix of a default name: `"Process"`, `"ForkProcess"` or `"ForkPoolWorker"`.
    pub fn prefix(self) -> &'static str {
        match self {
            ProcessKind::Process => "Process",
            ProcessKind::ForkProcess => "ForkProcess",
            ProcessKind::ForkPoolWorker => "ForkPoolWorker",
        }
    }
}

// ANCHOR: process_name
/// The default name of a process of `kind` whose identity is `identity`.
///
/// The identity is the path of child numbers from the main process: the main process
/// has the empty identity and is called `MainProcess` (whatever `kind` says); its third
/// child has `[3]` and is `Process-3`; that child's first child has `[3, 1]` and is
/// `Process-3:1`.
pub fn process_name(kind: ProcessKind, identity: &[u32]) -> String {
    // SKELETON: // TODO: the empty identity is "MainProcess", whatever the kind; any other identity
    // SKELETON: // is the kind's prefix, a dash and its numbers joined by ':'.
    // SKELETON: todo!(
    // SKELETON:     "name the {kind:?} process with identity {identity:?}: \"MainProcess\" \
    // SKELETON:      when the identity is empty, else like \"Process-3:1\""
    // SKELETON: )
    // BEGIN SOLUTION
    if identity.is_empty() {
        return "MainProcess".to_owned();
    }
    let numbers: Vec<String> = identity.iter().map(u32::to_string).collect();
    format!("{}-{}", kind.prefix(), numbers.join(":"))
    // END SOLUTION
}
// ANCHOR_END: process_name
