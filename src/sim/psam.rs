//! TODO: being written.

use super::apdu::{CommandApdu, Reply};
use super::card::Application;
use super::profile::ProfileError;

/// Profile of the application (stub).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PsamProfile {}

/// The application (stub).
#[derive(Debug)]
pub struct PsamApplication {}

impl PsamApplication {
    /// Personalises the application from its profile (stub).
    pub fn personalise(_profile: &PsamProfile, field: &str) -> Result<Self, ProfileError> {
        Err(ProfileError::invalid(field, "not implemented yet"))
    }
}

impl Application for PsamApplication {
    fn df_name(&self) -> &[u8] {
        &[]
    }
    fn directory_entry(&self) -> Option<Vec<u8>> {
        None
    }
    fn in_ppse(&self) -> bool {
        false
    }
    fn in_pse(&self) -> bool {
        false
    }
    fn select(&mut self) -> Reply {
        Reply::status(quickpass_kernel::values::StatusWord::FILE_NOT_FOUND)
    }
    fn process(&mut self, _command: &CommandApdu<'_>) -> Reply {
        Reply::status(quickpass_kernel::values::StatusWord(0x6D00))
    }
    fn reset(&mut self) {}
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
