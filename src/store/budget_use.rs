//! Each member's use of the store's daily budget (`refresh::budget`): one small value per
//! member, the day it counts and what was written that day. A new day starts from nothing.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{decode, encode, Store};
use crate::config::MemberId;
use crate::model::DailyUse;

#[derive(Serialize, Deserialize)]
struct Stored {
    day: NaiveDate,
    used: DailyUse,
}

fn key(member: &MemberId) -> String {
    format!("budget:{member}")
}

impl Store {
    /// What `member` has written on `day`.
    pub fn budget_use(&self, member: &MemberId, day: NaiveDate) -> anyhow::Result<DailyUse> {
        let stored: Option<Stored> = self.counters.get(key(member))?.map(|bytes| decode(&bytes)).transpose()?;
        Ok(stored.filter(|stored| stored.day == day).map(|stored| stored.used).unwrap_or_default())
    }

    /// Records what `member` has written on `day` so far.
    pub fn set_budget_use(&self, member: &MemberId, day: NaiveDate, used: DailyUse) -> anyhow::Result<()> {
        self.counters.insert(key(member), encode(&Stored { day, used })?)?;
        Ok(())
    }
}
