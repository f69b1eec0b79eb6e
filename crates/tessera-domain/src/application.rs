//! Application forms (a festival's student and teacher forms, say): the fields an organizer defines for
//! a ticket type sold by approval, the answers an applicant gives, and the guest names a ticket
//! is issued for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::user::parse_email;
use crate::validation::ValidationErrors;

/// A field's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Email,
    Number,
    Choice,
}

/// One field of a form, as defined and as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormField {
    /// The answer's key: lower-case letters, digits and underscores.
    pub name: String,
    /// Shown to applicants; the name when left out.
    #[serde(default)]
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// The allowed answers of a choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Bounds of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Longest text answer (default and at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

/// An answer as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Number(f64),
    Text(String),
}

const MAX_FIELDS: usize = 50;
const MAX_TEXT: usize = 1000;

/// Checks a form definition: 1–50 fields, unique well-formed names, options for choices (and
/// only for them), sensible bounds.
pub fn parse_form(fields: Vec<FormField>) -> Result<Vec<FormField>, ValidationErrors> {
    let mut e = ValidationErrors::new();
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        e.add("fields", format!("give between 1 and {MAX_FIELDS} fields"));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(fields.len());
    for (i, mut f) in fields.into_iter().enumerate() {
        let at = |k: &str| format!("fields[{i}].{k}");
        f.name = f.name.trim().to_string();
        let good_name = !f.name.is_empty()
            && f.name.len() <= 50
            && f.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !good_name {
            e.add(&at("name"), "use 1-50 lower-case letters, digits and underscores");
        } else if !seen.insert(f.name.clone()) {
            e.add(&at("name"), "is used by another field");
        }
        f.label = f.label.trim().to_string();
        if f.label.is_empty() {
            f.label = f.name.clone();
        }
        if f.label.chars().count() > 200 {
            e.add(&at("label"), "must be at most 200 characters");
        }
        match f.kind {
            FieldKind::Choice => {
                f.options = f.options.iter().map(|o| o.trim().to_string()).collect();
                if f.options.is_empty() || f.options.iter().any(String::is_empty) || f.options.len() > 100 {
                    e.add(&at("options"), "a choice needs 1-100 non-empty options");
                }
            }
            _ if !f.options.is_empty() => e.add(&at("options"), "only a choice has options"),
            _ => {}
        }
        if f.kind != FieldKind::Number && (f.min.is_some() || f.max.is_some()) {
            e.add(&at("min"), "only a number has bounds");
        }
        if let (Some(lo), Some(hi)) = (f.min, f.max)
            && lo > hi
        {
            e.add(&at("max"), "must not be below min");
        }
        if f.max_length.is_some_and(|n| n == 0 || n > MAX_TEXT) {
            e.add(&at("max_length"), format!("must be between 1 and {MAX_TEXT}"));
        }
        out.push(f);
    }
    e.finish(out)
}

/// Checks answers against a form: every required field answered, nothing unknown, each answer
/// of its field's kind and within its limits. Errors name `answers.<field>`.
pub fn check_answers(
    form: &[FormField],
    answers: &BTreeMap<String, Answer>,
) -> Result<BTreeMap<String, Answer>, ValidationErrors> {
    let mut e = ValidationErrors::new();
    for k in answers.keys() {
        if !form.iter().any(|f| &f.name == k) {
            e.add(&format!("answers.{k}"), "is not a field of this form");
        }
    }
    let mut out = BTreeMap::new();
    for f in form {
        let at = format!("answers.{}", f.name);
        let given = answers.get(&f.name).filter(|a| !matches!(a, Answer::Text(t) if t.trim().is_empty()));
        let Some(a) = given else {
            if f.required {
                e.add(&at, "is required");
            }
            continue;
        };
        let checked = match (f.kind, a) {
            (FieldKind::Number, Answer::Number(n)) => {
                if f.min.is_some_and(|lo| *n < lo) || f.max.is_some_and(|hi| *n > hi) {
                    Err(format!(
                        "must be between {} and {}",
                        f.min.map_or("-∞".into(), |v| v.to_string()),
                        f.max.map_or("∞".into(), |v| v.to_string())
                    ))
                } else {
                    Ok(Answer::Number(*n))
                }
            }
            (FieldKind::Number, Answer::Text(_)) => Err("must be a number".into()),
            (_, Answer::Number(_)) => Err("must be text".into()),
            (FieldKind::Email, Answer::Text(t)) => parse_email(Some(t)).map(Answer::Text),
            (FieldKind::Choice, Answer::Text(t)) => {
                let t = t.trim();
                if f.options.iter().any(|o| o == t) {
                    Ok(Answer::Text(t.to_string()))
                } else {
                    Err(format!("must be one of: {}", f.options.join(", ")))
                }
            }
            (FieldKind::Text, Answer::Text(t)) => {
                let t = t.trim();
                let max = f.max_length.unwrap_or(MAX_TEXT);
                if t.chars().count() > max {
                    Err(format!("must be at most {max} characters"))
                } else {
                    Ok(Answer::Text(t.to_string()))
                }
            }
        };
        match checked {
            Ok(v) => {
                out.insert(f.name.clone(), v);
            }
            Err(m) => e.add(&at, m),
        }
    }
    e.finish(out)
}

/// Checks the names tickets are issued for: 1 to `limit` (the ticket type's per-person limit),
/// each 1-100 characters, no name twice.
pub fn parse_guest_names(names: &[String], limit: i64) -> Result<Vec<String>, String> {
    let names: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
    if names.is_empty() {
        return Err("give at least one guest name".into());
    }
    if i64::try_from(names.len()).unwrap_or(i64::MAX) > limit {
        return Err(format!("at most {limit} guests per application (the per-person limit)"));
    }
    if names.iter().any(|n| n.is_empty() || n.chars().count() > 100) {
        return Err("each guest name must be 1-100 characters".into());
    }
    let mut lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    lower.sort();
    if lower.windows(2).any(|w| w[0] == w[1]) {
        return Err("a guest name is given twice".into());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind, required: bool) -> FormField {
        FormField {
            name: name.into(),
            label: String::new(),
            kind,
            required,
            options: Vec::new(),
            min: None,
            max: None,
            max_length: None,
        }
    }

    fn student_form() -> Vec<FormField> {
        let mut grade = field("grade", FieldKind::Number, true);
        grade.min = Some(1.0);
        grade.max = Some(6.0);
        let mut school = field("school", FieldKind::Choice, true);
        school.options = vec!["North High".into(), "South High".into()];
        parse_form(vec![
            field("student_name", FieldKind::Text, true),
            field("email", FieldKind::Email, true),
            grade,
            school,
            field("note", FieldKind::Text, false),
        ])
        .unwrap()
    }

    fn answers(pairs: &[(&str, Answer)]) -> BTreeMap<String, Answer> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect()
    }

    #[test]
    fn good_answers_pass_trimmed() {
        let a = answers(&[
            ("student_name", Answer::Text(" Aiko ".into())),
            ("email", Answer::Text("aiko@example.com".into())),
            ("grade", Answer::Number(2.0)),
            ("school", Answer::Text("North High".into())),
        ]);
        let ok = check_answers(&student_form(), &a).unwrap();
        assert_eq!(ok["student_name"], Answer::Text("Aiko".into()));
        assert!(!ok.contains_key("note"));
    }

    #[test]
    fn each_bad_answer_names_its_field() {
        let a = answers(&[
            ("student_name", Answer::Text("  ".into())),
            ("email", Answer::Text("not-an-email".into())),
            ("grade", Answer::Number(9.0)),
            ("school", Answer::Text("East High".into())),
            ("shoe_size", Answer::Number(27.0)),
        ]);
        let e = check_answers(&student_form(), &a).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        for f in
            ["answers.student_name", "answers.email", "answers.grade", "answers.school", "answers.shoe_size"]
        {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let wrong_kind = answers(&[("grade", Answer::Text("two".into()))]);
        let e = check_answers(&student_form(), &wrong_kind).unwrap_err();
        assert!(e.0.iter().any(|f| f.field == "answers.grade" && f.message == "must be a number"));
    }

    #[test]
    fn form_definitions_are_checked() {
        assert!(parse_form(vec![]).is_err());
        let dup = parse_form(vec![field("a", FieldKind::Text, false), field("a", FieldKind::Text, false)]);
        assert_eq!(dup.unwrap_err().0[0].field, "fields[1].name");
        assert!(parse_form(vec![field("Bad Name", FieldKind::Text, false)]).is_err());
        assert!(parse_form(vec![field("c", FieldKind::Choice, false)]).is_err(), "a choice needs options");
        let mut t = field("t", FieldKind::Text, false);
        t.options = vec!["x".into()];
        assert!(parse_form(vec![t]).is_err());
        let mut n = field("n", FieldKind::Number, false);
        n.min = Some(5.0);
        n.max = Some(1.0);
        assert!(parse_form(vec![n]).is_err());
        let ok = parse_form(vec![field("x", FieldKind::Text, false)]).unwrap();
        assert_eq!(ok[0].label, "x", "the label defaults to the name");
    }

    #[test]
    fn guest_names() {
        assert_eq!(parse_guest_names(&[" Aiko ".into(), "Ben".into()], 2).unwrap(), vec!["Aiko", "Ben"]);
        assert!(parse_guest_names(&[], 2).is_err());
        assert!(
            parse_guest_names(&["A".into(), "B".into(), "C".into()], 2).unwrap_err().contains("at most 2")
        );
        assert!(parse_guest_names(&["Aiko".into(), "aiko".into()], 2).unwrap_err().contains("twice"));
        assert!(parse_guest_names(&["".into()], 2).is_err());
    }
}
