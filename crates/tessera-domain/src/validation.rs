//! Field-level validation errors, collected so a client sees every wrong field at once.

use serde::Serialize;

/// One wrong field: `field` is the JSON name (dotted for nested values), `message` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A non-empty list of field errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.to_string(), message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when no error was recorded.
    pub fn finish<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }

    /// Records the error of `r` (if any) and returns its value.
    pub fn check<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// A trimmed, non-empty text of at most `max` characters.
pub fn required_text(value: Option<&str>, max: usize) -> Result<String, String> {
    match value.map(str::trim) {
        None => Err("is required".into()),
        Some("") => Err("must not be empty".into()),
        Some(v) => bounded(v, max).map(str::to_string),
    }
}

/// An optional text: empty after trimming becomes `None`.
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => bounded(v, max).map(|v| Some(v.to_string())),
    }
}

fn bounded(v: &str, max: usize) -> Result<&str, String> {
    if v.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        Err("must not contain control characters".into())
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_rules() {
        assert_eq!(required_text(None, 5), Err("is required".into()));
        assert_eq!(required_text(Some("  "), 5), Err("must not be empty".into()));
        assert_eq!(required_text(Some(" abc "), 5), Ok("abc".into()));
        assert!(required_text(Some("abcdef"), 5).is_err());
        assert!(required_text(Some("a\u{0}b"), 5).is_err());
    }

    #[test]
    fn optional_text_rules() {
        assert_eq!(optional_text(Some(""), 5), Ok(None));
        assert_eq!(optional_text(None, 5), Ok(None));
        assert_eq!(optional_text(Some("x"), 5), Ok(Some("x".into())));
    }

    #[test]
    fn collects_errors() {
        let mut e = ValidationErrors::new();
        assert_eq!(e.check("a", Ok::<_, String>(1)), Some(1));
        assert_eq!(e.check::<i32>("b", Err("bad".into())), None);
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.to_string(), "b: bad");
        assert!(e.finish(()).is_err());
    }
}
