//! Account inputs: registration and profile changes.

use crate::role::Role;
use crate::validation::{ValidationErrors, optional_text, required_text};

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

/// A validated registration.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub password: String,
    pub phone_number: Option<String>,
    pub role: Role,
}

/// The raw registration fields as they arrive.
#[derive(Debug, Default, Clone)]
pub struct RegisterInput<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub password: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    pub role: Option<&'a str>,
}

impl NewUser {
    /// Validates a self-registration: only attendee or organizer may be chosen.
    pub fn parse(input: RegisterInput<'_>) -> Result<NewUser, ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let name = errs.check("name", required_text(input.name, 255));
        let email = errs.check("email", parse_email(input.email));
        let password = errs.check("password", parse_password(input.password));
        let phone_number = errs.check("phone_number", parse_phone(input.phone_number)).flatten();
        let role = match input.role {
            None => Some(Role::Attendee),
            Some(r) => match r.parse::<Role>() {
                Ok(role) if role.self_assignable() => Some(role),
                Ok(_) => {
                    errs.add("role", "must be attendee or organizer; other roles are granted by an admin");
                    None
                }
                Err(m) => {
                    errs.add("role", m);
                    None
                }
            },
        };
        match (name, email, password, role) {
            (Some(name), Some(email), Some(password), Some(role)) if errs.is_empty() => {
                Ok(NewUser { name, email, password, phone_number, role })
            }
            _ => Err(errs),
        }
    }
}

/// Lower-cases and checks the shape `local@domain.tld`; deliverability is not our business here.
pub fn parse_email(value: Option<&str>) -> Result<String, String> {
    let v = required_text(value, 255)?.to_lowercase();
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if ok { Ok(v) } else { Err("must be an e-mail address such as ada@example.com".into()) }
}

pub fn parse_password(value: Option<&str>) -> Result<String, String> {
    let v = value.ok_or("is required")?;
    let n = v.chars().count();
    if n < MIN_PASSWORD {
        Err(format!("must be at least {MIN_PASSWORD} characters"))
    } else if n > MAX_PASSWORD {
        Err(format!("must be at most {MAX_PASSWORD} characters"))
    } else {
        Ok(v.to_string())
    }
}

/// Up to 15 characters (seed 000's VARCHAR(15)): digits, spaces, '+', '-', '(' and ')'.
pub fn parse_phone(value: Option<&str>) -> Result<Option<String>, String> {
    let v = optional_text(value, 15)?;
    if let Some(p) = &v
        && !p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
    {
        return Err("may contain only digits, spaces and + - ( )".into());
    }
    Ok(v)
}

/// A validated profile change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    /// `Some(None)` clears the phone number.
    pub phone_number: Option<Option<String>>,
    pub password: Option<String>,
    pub role: Option<Role>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>() -> RegisterInput<'a> {
        RegisterInput {
            name: Some("Ada"),
            email: Some("Ada@Example.com"),
            password: Some("correct horse"),
            phone_number: None,
            role: None,
        }
    }

    #[test]
    fn accepts_and_normalizes() {
        let u = NewUser::parse(input()).unwrap();
        assert_eq!(u.email, "ada@example.com");
        assert_eq!(u.role, Role::Attendee);
    }

    #[test]
    fn reports_every_bad_field() {
        let e = NewUser::parse(RegisterInput {
            name: None,
            email: Some("nope"),
            password: Some("short"),
            phone_number: Some("call me"),
            role: Some("admin"),
        })
        .unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "password", "phone_number", "role"]);
    }

    #[test]
    fn email_shapes() {
        for bad in ["a@b", "@b.c", "a@.c", "a b@c.d", "a@b@c.d", "a@b.c."] {
            assert!(parse_email(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_email(Some("x.y+z@sub.example.org")).is_ok());
    }
}
