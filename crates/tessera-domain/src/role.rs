//! Account roles and what each may do.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Attendee,
    Organizer,
    Staff,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Attendee, Role::Organizer, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attendee => "attendee",
            Role::Organizer => "organizer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    /// Organizers and admins may create events.
    pub fn can_create_events(self) -> bool {
        matches!(self, Role::Organizer | Role::Admin)
    }

    /// Roles a person may pick for themself at registration; the others are granted by an admin.
    pub fn self_assignable(self) -> bool {
        matches!(self, Role::Attendee | Role::Organizer)
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| "must be one of attendee, organizer, staff, admin".to_string())
    }
}

crate::text_enum::text_decode!(Role);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn permissions() {
        assert!(Role::Organizer.can_create_events());
        assert!(!Role::Attendee.can_create_events());
        assert!(!Role::Admin.self_assignable());
    }
}
