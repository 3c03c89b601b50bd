//! Exercise 2: what a process knows about itself and its parent.

use ch01_setup::current_process;

// ANCHOR: parent_pid
/// The pid of the process that started this one, like Python's `parent_process().pid`;
/// `None` in the main process.
///
/// It is the pid recorded when the child was started, so it stays right even after the
/// parent has died (when `getppid()` would name a reaper instead).
pub fn parent_pid() -> Option<i32> {
    // SKELETON: // TODO: the pid recorded when this process was started, right even after the
    // SKELETON: // parent died; None in the main process.
    // SKELETON: todo!(
    // SKELETON:     "return the recorded parent pid of pid {} (None in the main process)",
    // SKELETON:     std::process::id()
    // SKELETON: )
    // BEGIN SOLUTION
    current_process().parent_pid
    // END SOLUTION
}
// ANCHOR_END: parent_pid

// ANCHOR: info
/// The notebook's `info(title)` as lines: the title, the process's name, its parent's
/// pid (`none` in the main process) and its own pid.
///
/// ```text
/// function f
///   process name: Process-1
///   parent pid: 4242
///   pid: 4243
/// ```
pub fn info(title: &str) -> Vec<String> {
    // SKELETON: // TODO: the title, then the name, parent pid and pid lines of the example above.
    // SKELETON: todo!(
    // SKELETON:     "describe pid {} in four lines under the title {title:?}",
    // SKELETON:     std::process::id()
    // SKELETON: )
    // BEGIN SOLUTION
    let me = current_process();
    let parent = parent_pid().map_or_else(|| "none".to_owned(), |pid| pid.to_string());
    vec![
        title.to_owned(),
        format!("  process name: {}", me.name),
        format!("  parent pid: {parent}"),
        format!("  pid: {}", me.pid),
    ]
    // END SOLUTION
}
// ANCHOR_END: info
