//! The issuer side, simulated: what a bank host or a purse clearing host computes.

pub mod acquirer;
pub mod clearing;
pub mod emv;
pub mod purse;
