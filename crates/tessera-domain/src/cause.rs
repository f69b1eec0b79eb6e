//! An unexpected failure kept whole: the original error (with its own causes) and the place in
//! Tessera's code where it was given up on. A 5xx is logged with both, so the log line says what
//! went wrong underneath and where, without the client seeing any of it.

use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Cloning shares the error: one failed batch of writes answers every request in it.
#[derive(Debug, Clone)]
pub struct Cause {
    source: Arc<dyn Error + Send + Sync + 'static>,
    at: &'static Location<'static>,
}

impl Cause {
    /// Wraps `source`, noting the caller's location (through `#[track_caller]` callers too, so
    /// a `?` converting an error names the line of the `?`).
    #[track_caller]
    pub fn new(source: impl Into<BoxError>) -> Self {
        Cause { source: Arc::from(source.into()), at: Location::caller() }
    }

    /// Where in Tessera the failure was caught, as `file:line:column`.
    pub fn at(&self) -> &'static Location<'static> {
        self.at
    }

    /// Every message from the outermost error to its root cause, joined by ": ".
    pub fn chain(&self) -> String {
        let mut out = self.source.to_string();
        let mut next = self.source.source();
        while let Some(e) = next {
            let m = e.to_string();
            // Wrappers often repeat their source's text; say each thing once.
            if !out.ends_with(&m) {
                out.push_str(": ");
                out.push_str(&m);
            }
            next = e.source();
        }
        out
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.chain(), self.at)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading the key file")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn keeps_the_chain_and_the_place() {
        let line = line!() + 1;
        let c = Cause::new(Outer(std::io::Error::other("disk on fire")));
        assert_eq!(c.chain(), "reading the key file: disk on fire");
        assert_eq!((c.at().file(), c.at().line()), (file!(), line));
        assert!(c.to_string().ends_with(&format!("(at {}:{line}:17)", file!())), "{c}");
        assert!(c.source().is_some());
        assert_eq!(Cause::new("plain text").chain(), "plain text");
        let c = Cause::new(context("the stored form", Outer(std::io::Error::other("bad byte"))));
        assert_eq!(c.chain(), "the stored form: reading the key file: bad byte");
    }
}

/// An error with what was being done when it happened, keeping the error as its source.
#[derive(Debug)]
pub struct Context {
    what: String,
    source: BoxError,
}

/// `what` was being done when `source` happened.
pub fn context(what: impl Into<String>, source: impl Into<BoxError>) -> Context {
    Context { what: what.into(), source: source.into() }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}
