//! Errors as one line of text for logs and operators: each error of a chain says its own part
//! and leaves the cause to [`std::error::Error::source`], so a chain is printed by walking it.

use std::error::Error;
use std::fmt;

/// Shows an error and its causes as `error: cause: cause …`, each said once (a cause whose
/// text the line already holds is left out).
///
/// ```
/// use quickpass::report::Chain;
///
/// let error = std::fs::read("/no/such/file").map_err(|e| {
///     std::io::Error::new(std::io::ErrorKind::NotFound, Box::new(e))
/// });
/// let line = Chain(&error.unwrap_err()).to_string();
/// assert_eq!(line.matches("No such file").count(), 1);
/// ```
pub struct Chain<'a>(pub &'a dyn Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = error.source();
        }
        f.write_str(&line)
    }
}

/// [`Chain`] as a `String`: `error_chain(&e)` where a message is built.
pub fn error_chain(error: &dyn Error) -> String {
    Chain(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("card profile x.json")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the file")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn every_cause_once_in_order() {
        let error = Outer(Inner(std::io::Error::other("disk on fire")));
        assert_eq!(
            error_chain(&error),
            "card profile x.json: cannot read the file: disk on fire"
        );
    }
}
