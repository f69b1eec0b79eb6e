//! A tiny builder for queries whose WHERE clause depends on filters: it numbers placeholders
//! (`$1…$N`, in ascending order of first use, which both drivers bind the same way) and keeps the
//! values to bind, so one text serves SQLite and PostgreSQL.

use time::OffsetDateTime;
use uuid::Uuid;

/// A value to bind.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
    Ts(OffsetDateTime),
    Id(Uuid),
}

impl Arg {
    /// Any typed id, bound as its UUID.
    pub fn id(id: impl Into<Uuid>) -> Arg {
        Arg::Id(id.into())
    }
}

/// SQL text plus its arguments.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_string(), args: Vec::new() }
    }

    /// Appends raw SQL.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Adds a value and returns its placeholder.
    pub fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    /// Appends a statement written with its own placeholders (`$1…$N`, bound to `args` in
    /// order), renumbered after the ones already here, so statements kept as constants for one
    /// use can be combined into one (a CTE chain) without restating them.
    pub fn append(&mut self, stmt: &str, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        let offset = self.args.len();
        let mut rest = stmt;
        while let Some(at) = rest.find('$') {
            self.text.push_str(&rest[..=at]);
            rest = &rest[at + 1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            match rest[..digits].parse::<usize>() {
                Ok(n) => self.text.push_str(&(n + offset).to_string()),
                Err(_) => self.text.push_str(&rest[..digits]),
            }
            rest = &rest[digits..];
        }
        self.text.push_str(rest);
        self.args.extend(args);
        self
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern and lower-cases it.
pub fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Binds every argument of a [`Sql`] to a sqlx query (`query`, `query_as` or `query_scalar`).
#[macro_export]
#[doc(hidden)]
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args.iter().cloned() {
            q = match a {
                $crate::query::Arg::Text(v) => q.bind(v),
                $crate::query::Arg::Int(v) => q.bind(v),
                $crate::query::Arg::Ts(v) => q.bind(v),
                $crate::query::Arg::Id(v) => q.bind(v),
            };
        }
        q
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        let p1 = s.arg(Arg::Int(1));
        let p2 = s.arg(Arg::Text("x".into()));
        assert_eq!((p1.as_str(), p2.as_str()), ("$1", "$2"));
        assert_eq!(s.args.len(), 2);
    }

    #[test]
    fn appended_statements_are_renumbered_after_what_is_there() {
        let mut s = Sql::new("WITH a AS (UPDATE t SET x = ");
        let p = s.arg(Arg::Int(1));
        s.push(&p).push(") ").append("INSERT INTO u VALUES ($1, $2, $1, $10)", (0..10).map(Arg::Int));
        assert_eq!(s.text, "WITH a AS (UPDATE t SET x = $1) INSERT INTO u VALUES ($2, $3, $2, $11)");
        assert_eq!(s.args.len(), 11);
        // A lone `$` is kept as it is.
        assert_eq!(Sql::new("").append("SELECT '$' || $1", [Arg::Int(1)]).text, "SELECT '$' || $1");
    }

    #[test]
    fn escapes_like() {
        assert_eq!(like_pattern("50%_A\\"), "%50\\%\\_a\\\\%");
    }
}
