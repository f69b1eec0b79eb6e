//! Bulk loading for the command line's CSV import and demo data: rows their reader has already
//! validated go to the database a chunk per transaction, skipping what is already there, so a
//! load can be run again.

use tessera_domain::id::{EventId, UserId};
use tessera_domain::records::{Event, Purchase, User};

use crate::{App, Result};

impl App {
    /// Adds users whose e-mail is new; answers how many were added.
    pub async fn load_users(&self, rows: &[User]) -> Result<u64> {
        Ok(self.store.insert_users(rows).await?)
    }

    /// Adds events whose id is new; answers how many were added.
    pub async fn load_events(&self, rows: &[Event]) -> Result<u64> {
        Ok(self.store.insert_events(rows).await?)
    }

    /// Adds purchases whose id is new; answers how many were added.
    pub async fn load_purchases(&self, rows: &[Purchase]) -> Result<u64> {
        Ok(self.store.insert_purchases(rows).await?)
    }

    /// Every user id, for checking the purchases of an import refer to existing users.
    pub async fn user_ids(&self) -> Result<Vec<UserId>> {
        Ok(self.store.existing_user_emails().await?.into_iter().map(|(_, id)| id).collect())
    }

    /// Every event's id and price, for checking and pricing the purchases of an import.
    pub async fn event_prices(&self) -> Result<Vec<(EventId, Option<i64>)>> {
        Ok(self.store.event_prices().await?)
    }
}
