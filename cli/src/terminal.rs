//! The local terminal for `exec -t`: its size, and raw mode restored when the guard drops
//! (also on errors), so the remote shell receives every key as typed.

use std::os::fd::BorrowedFd;

use rustix::termios::{self, OptionalActions, Termios};

/// The terminal on standard input, if standard input is one.
fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the whole life of the process.
    #[allow(unsafe_code)]
    unsafe {
        BorrowedFd::borrow_raw(0)
    }
}

/// The size of the terminal on standard input (`cols`, `rows`), when it is one.
pub fn size() -> Option<(u16, u16)> {
    let size = termios::tcgetwinsize(stdin_fd()).ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
}

/// Raw mode on standard input until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts the terminal in raw mode; `None` when standard input is not a terminal.
    pub fn enable() -> Option<Self> {
        let saved = termios::tcgetattr(stdin_fd()).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin_fd(), OptionalActions::Now, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(stdin_fd(), OptionalActions::Now, &self.saved);
    }
}
