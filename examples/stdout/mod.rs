//! Standard output for the examples and the `quickpass` CLI (which includes this file): a reader
//! that goes away (`bus_fare --json | head -1`) ends the program normally, exit 0, instead of
//! the panic `println!` gives on a broken pipe. Any other write error ends it with exit 1.
#![allow(dead_code, unused_macros)]

use std::fmt;
use std::io::{self, Write};

/// Writes `args` to standard output and flushes it; see the module.
pub fn write(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(error) = out.write_fmt(args).and_then(|()| out.flush()) {
        end(&error);
    }
}

/// The end of the program on a write error: exit 0 when the reader has gone (broken pipe),
/// else 1 with the error on standard error.
fn end(error: &io::Error) -> ! {
    if error.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(io::stderr(), "standard output: {error}");
    std::process::exit(1)
}

/// `println!` through [`write`].
macro_rules! outln {
    () => { $crate::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout::write(format_args!($($arg)*)) };
}
